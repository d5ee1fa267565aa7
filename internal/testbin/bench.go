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

// APIBenchScript serves the API functions that scripts/rawapi answers in
// plain Go: an addition, and one SQLite query by primary key.
const APIBenchScript = `
db = sql.connect("sqlite:bench.db")
db.execute("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL NOT NULL)")
db.execute("INSERT OR IGNORE INTO items (id, name, price) VALUES (1, 'apple', 0.5), (2, 'pear', 0.75), (3, 'plum', 1.25)")

@hwebserver.apiFunction(namespace="bench")
def add(request, a, b):
    return a + b

@hwebserver.apiFunction(namespace="bench")
def item(request, id):
    return db.queryOne("SELECT id, name, price FROM items WHERE id = ?", id)
`
