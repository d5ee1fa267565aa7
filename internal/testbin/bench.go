package testbin

// BenchScript is the script the benchmarks serve, in process (runtime/)
// and through the real binary (tests/): two hello handlers and an API
// function.
const BenchScript = `
@hwebserver.urlHandler("/")
def hello(request):
    return hwebserver.Response("Hello")

@hwebserver.urlHandler("/str")
def hello_str(request):
    return "Hello"

@hwebserver.apiFunction(namespace="bench")
def add(request, a, b):
    return a + b
`
