// Package body reads request bodies before a handler takes the GIL: the
// whole body within max_request_size (413 beyond it, also when chunked),
// in memory up to max_in_memory_file_upload_size and in temp files above
// it; urlencoded forms into fields; multipart forms streamed into fields
// and UploadedFiles. A [Reader] also cuts off bodies that stop arriving
// (408, connection closed). Failures are *host.HTTPError with the status
// to answer. Safe for concurrent use.
package body
