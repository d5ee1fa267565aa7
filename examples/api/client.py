#!/usr/bin/env python3
"""Call the example service as a Houdini user's tool would: stdlib only.

    python3 client.py [http://127.0.0.1:8008]

Service mirrors Houdini's webapiclient.Service: attribute access names the
function (service.geo.vector_length is "geo.vector_length"), arguments
travel as the form field json = [name, args, kwargs], keyword arguments
holding bytes or open files are sent as file parts of a multipart body, an
application/octet-stream answer comes back as bytes, and an error status
raises APIError (422 for hwebserver.APIError, 500 for a server failure).
"""

import json
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid


class APIError(Exception):
    def __init__(self, status_code, message):
        super().__init__("%d: %s" % (status_code, message))
        self.status_code = status_code
        self.message = message


class Service:
    def __init__(self, url):
        self._url = url

    def __getattr__(self, name):
        return _Function(self._url, name)


class _Function:
    def __init__(self, url, name):
        self._url = url
        self._name = name

    def __getattr__(self, name):
        return _Function(self._url, self._name + "." + name)

    def __call__(self, *args, **kwargs):
        files = {k: v for k, v in kwargs.items() if isinstance(v, (bytes, bytearray)) or hasattr(v, "read")}
        kwargs = {k: v for k, v in kwargs.items() if k not in files}
        fields = {"json": json.dumps([self._name, args, kwargs])}
        if files:
            body, content_type = _multipart(fields, files)
        else:
            body, content_type = urllib.parse.urlencode(fields).encode(), "application/x-www-form-urlencoded"
        # Accept: application/json asks for {"error": ...} bodies instead of HTML pages.
        request = urllib.request.Request(self._url, data=body,
                                         headers={"Content-Type": content_type, "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request) as response:
                data = response.read()
                if response.headers.get_content_type() == "application/octet-stream":
                    return data
                return json.loads(data)
        except urllib.error.HTTPError as e:
            data = e.read()
            try:
                message = json.loads(data)["error"]
            except (ValueError, KeyError, TypeError):
                message = data.decode("utf-8", "replace")
            raise APIError(e.code, message) from None


def _multipart(fields, files):
    boundary = uuid.uuid4().hex
    out = []
    for name, value in fields.items():
        out.append(('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
                    % (boundary, name, value)).encode())
    for name, value in files.items():
        filename = getattr(value, "name", "unnamed.bin")
        data = value.read() if hasattr(value, "read") else bytes(value)
        out.append(('--%s\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\n'
                    'Content-Type: application/octet-stream\r\n\r\n' % (boundary, name, filename)).encode())
        out.append(data + b"\r\n")
    out.append(("--%s--\r\n" % boundary).encode())
    return b"".join(out), "multipart/form-data; boundary=" + boundary


def main():
    base = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8008"
    service = Service(base.rstrip("/") + "/api")

    print("geo.vector_length(1, 2, 2) =", service.geo.vector_length(1, 2, 2))
    print("scene.nodes() =", service.scene.nodes())
    print("scene.nodes(type='cam') =", service.scene.nodes(type="cam"))
    print("scene.set_parm(...) =", service.scene.set_parm(node="/obj/geo1", parm="tx", value=2.5))

    obj = service.scene.export_obj("/obj/geo1", size=2)
    print("scene.export_obj: %d bytes, %d vertices" % (len(obj), obj.count(b"\nv ")))

    print("files.checksum(data=b'hello houdini') =", service.files.checksum(data=b"hello houdini"))
    print("files.head(data=..., n=5) =", service.files.head(data=b"hello houdini", n=5))

    try:
        service.scene.set_parm(node="/obj/nope", parm="tx", value=1)
    except APIError as e:
        print("scene.set_parm on a missing node: APIError", e.status_code, e.message)
    try:
        service.scene.explode()
    except APIError as e:
        print("scene.explode: APIError", e.status_code, e.message)


if __name__ == "__main__":
    main()
