// Command soak drives a real hwebserver binary with a mixed load for a fixed
// time and reports what the server did meanwhile: the figures of issue 13,
// acceptance 4 ("60 s mixed load at full speed with 0 errors and RSS at the
// end within 20% of that at 10 s").
//
//	go run ./scripts/soak                      # builds hwebserver, 60 s
//	go run ./scripts/soak -bin ./hwebserver -duration 20s -workers 32
//
// It writes an app (a hello handler, an API function, a static folder,
// an upload handler, a WebSocket echo) into a temp folder, starts the
// binary there on a free loopback port with the defaults a user gets, and
// runs -workers goroutines, each cycling through a shuffled fixed mix of
// requests (-mix). Every answer is checked (status, body, digest, echo);
// anything else counts as an error. Once a second it reads the server's
// RSS from /proc. At the end it prints req/s and latency per kind, the
// errors, RSS at 10 s and at the end, open fds and temp files before and
// after, the server's CPU per request, and how the server shut down.
//
// Exit status: 0 when there were no errors and RSS at the end was at most
// -max-rss-ratio times RSS at -rss-ref; 1 otherwise; 2 when the soak could
// not run. Linux only (/proc). See README.md.
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

// kind is one sort of request of the mix.
type kind int

const (
	kHello kind = iota
	kAPI
	kStatic
	kUpload
	kWebSocket
	numKinds
)

var kindNames = [numKinds]string{"hello", "api", "static", "upload", "websocket"}

// The upload sizes, and how many distinct uploads are prepared (their
// digests are computed once, so the client spends its CPU on sending).
const (
	minUpload   = 100 << 10
	maxUpload   = 3 << 20
	numUploads  = 48
	wsMessages  = 10
	maxErrShown = 10
)

// appStar is the app under load. The upload handler hashes half the files
// with UploadedFile.sha256() (off the GIL, from memory or the temp file)
// and half by reading them into Starlark bytes, which is the heavier path
// for memory.
const appStar = `
hwebserver.registerStaticFilesDirectory("public")

@hwebserver.urlHandler("/")
def hello(request):
    return hwebserver.Response("Hello")

@hwebserver.apiFunction(namespace="soak")
def add(request, a, b):
    return {"sum": a + b, "n": len(str(a))}

@hwebserver.urlHandler("/upload", methods=["POST"])
def upload(request):
    f = request.files().get("file")
    if f == None:
        return hwebserver.errorResponse(request, "no file", 400)
    if request.POST().get("mode") == "read":
        digest = hashlib.sha256(f.read()).hexdigest()
    else:
        digest = f.sha256()
    return "%d %s" % (f.size(), digest)

@hwebserver.webSocket("/echo")
def echo(ws, text_data, bytes_data):
    ws.send(text_data if text_data != None else bytes_data, is_binary=text_data == None)
`

// staticSizes are the files of public/, 1 KB to 1 MB.
var staticSizes = map[string]int{
	"small.txt": 1 << 10,
	"style.css": 16 << 10,
	"app.js":    100 << 10,
	"image.bin": 1 << 20,
}

func main() {
	os.Exit(run())
}

type config struct {
	bin         string
	duration    time.Duration
	workers     int
	mix         [numKinds]int
	rssRef      time.Duration
	maxRSSRatio float64
	serverArgs  []string
	keep        bool
	seed        uint64
}

func run() int {
	var cfg config
	var mixFlag, serverArgs string
	flag.StringVar(&cfg.bin, "bin", "", "hwebserver `binary` to run (default: go build the module into a temp folder)")
	flag.DurationVar(&cfg.duration, "duration", 60*time.Second, "how long to load the server")
	flag.IntVar(&cfg.workers, "workers", 16*goruntime.GOMAXPROCS(0), "concurrent clients (each one request at a time)")
	flag.StringVar(&mixFlag, "mix", "60,15,15,5,5", "shares of hello, api, static, upload, websocket (by count)")
	flag.DurationVar(&cfg.rssRef, "rss-ref", 10*time.Second, "the RSS sample the end is compared with")
	flag.Float64Var(&cfg.maxRSSRatio, "max-rss-ratio", 1.2, "largest RSS at the end / RSS at -rss-ref that passes")
	flag.StringVar(&serverArgs, "server-args", "", "extra flags for hwebserver run, space-separated (e.g. \"--max-num-threads 8\")")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the temp folder (app, server log)")
	flag.Uint64Var(&cfg.seed, "seed", 1, "seed of the mix order and the payloads")
	cpuProfile := flag.String("cpuprofile", "", "write the soak's own CPU profile to `file` (to see what the client costs)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "soak: unexpected argument %q\n", flag.Arg(0))
		return 2
	}
	if err := parseMix(mixFlag, &cfg.mix); err != nil {
		fmt.Fprintln(os.Stderr, "soak: -mix:", err)
		return 2
	}
	if cfg.workers < 1 || cfg.duration <= 0 {
		fmt.Fprintln(os.Stderr, "soak: -workers and -duration must be positive")
		return 2
	}
	cfg.serverArgs = strings.Fields(serverArgs)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "soak:", err)
			return 2
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := soak(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		return 2
	}
	return code
}

func parseMix(s string, mix *[numKinds]int) error {
	parts := strings.Split(s, ",")
	if len(parts) != int(numKinds) {
		return fmt.Errorf("got %d shares, want %d (hello, api, static, upload, websocket)", len(parts), numKinds)
	}
	total := 0
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 0 {
			return fmt.Errorf("got %q, want whole numbers", s)
		}
		mix[i] = n
		total += n
	}
	if total == 0 {
		return errors.New("all shares are 0")
	}
	return nil
}

// server is the hwebserver process under load.
type server struct {
	cmd     *exec.Cmd
	pid     int
	url     string // http://127.0.0.1:PORT
	tempDir string // the server's own temp folder (TMPDIR/hwebserver-PID)
	logPath string
	exited  chan struct{} // closed when the process ended
	waitErr error
}

func soak(ctx context.Context, cfg config) (int, error) {
	dir, err := os.MkdirTemp("", "hwebserver-soak-")
	if err != nil {
		return 0, err
	}
	if cfg.keep {
		fmt.Printf("soak: temp folder %s (kept)\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	if cfg.bin == "" {
		if cfg.bin, err = buildServer(dir); err != nil {
			return 0, err
		}
	} else if cfg.bin, err = filepath.Abs(cfg.bin); err != nil {
		return 0, err
	}
	app, err := writeApp(filepath.Join(dir, "app"), cfg.seed)
	if err != nil {
		return 0, err
	}
	uploads := makeUploads(cfg.seed)

	srv, err := startServer(ctx, cfg, dir)
	if err != nil {
		return 0, err
	}
	defer func() {
		srv.cmd.Process.Kill()
		<-srv.exited
	}()

	tr := &http.Transport{
		MaxIdleConns:        cfg.workers * 2,
		MaxIdleConnsPerHost: cfg.workers * 2,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	client := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	if err := waitReady(ctx, client, srv); err != nil {
		return 0, err
	}
	tr.CloseIdleConnections()
	time.Sleep(200 * time.Millisecond) // let the server see the warm-up connection go

	r := &report{cfg: cfg, workers: cfg.workers}
	r.loadStart = loadAvg()
	r.before = snapshot(srv)

	l := &loader{
		cfg:     cfg,
		srv:     srv,
		client:  client,
		app:     app,
		uploads: uploads,
	}
	l.runFor(ctx, r)

	r.loadEnd = loadAvg()
	r.endOfLoad = snapshot(srv)
	// Let the server settle once the clients are gone: keep-alive
	// connections closed, temp files removed, memory as it stays.
	tr.CloseIdleConnections()
	r.settled = settle(srv, r.before.fds)
	r.shutdown = shutdown(srv)
	r.logLines, r.logHead = readLog(srv.logPath, maxErrShown)
	return r.print(os.Stdout), nil
}

// buildServer builds the module that holds this program into dir.
func buildServer(dir string) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("no -bin given and not inside the module (go env GOMOD: %q, %v)", gomod, err)
	}
	bin := filepath.Join(dir, "hwebserver")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Dir(gomod)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	fmt.Printf("soak: building hwebserver from %s\n", cmd.Dir)
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build: %w", err)
	}
	return bin, nil
}

// appFiles is what the checks compare the answers with.
type appFiles struct {
	static []staticFile
}

type staticFile struct {
	path   string // URL path
	size   int
	sha256 [32]byte
}

func writeApp(dir string, seed uint64) (*appFiles, error) {
	if err := os.MkdirAll(filepath.Join(dir, "public"), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "app.star"), []byte(appStar), 0o644); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 2))
	app := &appFiles{}
	names := make([]string, 0, len(staticSizes))
	for name := range staticSizes {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		data := randomText(rng, staticSizes[name])
		if err := os.WriteFile(filepath.Join(dir, "public", name), data, 0o644); err != nil {
			return nil, err
		}
		app.static = append(app.static, staticFile{"/static/" + name, len(data), sha256.Sum256(data)})
	}
	return app, nil
}

// randomText is n bytes of printable noise: compressible neither by the
// server nor by anything in between, and safe as a WebSocket text message.
func randomText(rng *rand.Rand, n int) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/ \n"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return b
}

// upload is one prepared file: a slice of a shared random buffer.
type upload struct {
	data   []byte
	expect string // "SIZE HEXDIGEST", the handler's answer
}

func makeUploads(seed uint64) []upload {
	rng := rand.New(rand.NewPCG(seed, 3))
	blob := make([]byte, maxUpload+1024)
	for i := range blob {
		blob[i] = byte(rng.Uint32())
	}
	ups := make([]upload, numUploads)
	for i := range ups {
		size := minUpload + rng.IntN(maxUpload-minUpload+1)
		off := rng.IntN(len(blob) - size + 1)
		data := blob[off : off+size]
		sum := sha256.Sum256(data)
		ups[i] = upload{data, fmt.Sprintf("%d %s", size, hex.EncodeToString(sum[:]))}
	}
	return ups
}

var servingRE = regexp.MustCompile(`(http://127\.0\.0\.1:\d+)/ \[main\]`)

func startServer(ctx context.Context, cfg config, dir string) (*server, error) {
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "server.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	args := append([]string{"run", "app.star", "--port", "0"}, cfg.serverArgs...)
	cmd := exec.Command(cfg.bin, args...)
	cmd.Dir = filepath.Join(dir, "app")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	s := &server{
		cmd:     cmd,
		pid:     cmd.Process.Pid,
		tempDir: filepath.Join(tmp, "hwebserver-"+strconv.Itoa(cmd.Process.Pid)),
		logPath: logPath,
		exited:  make(chan struct{}),
	}
	found := make(chan string, 1)
	go func() {
		// Everything the server prints goes to the log; the first
		// "serving" line gives the URL.
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			if m := servingRE.FindStringSubmatch(line); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	go func() {
		s.waitErr = cmd.Wait()
		logf.Close()
		close(s.exited)
	}()
	select {
	case s.url = <-found:
		fmt.Printf("soak: %s run app.star --port 0 %s: pid %d, %s\n", cfg.bin, strings.Join(cfg.serverArgs, " "), s.pid, s.url)
		return s, nil
	case <-s.exited:
		log, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("the server exited before serving (%v):\n%s", s.waitErr, log)
	case <-time.After(30 * time.Second):
	case <-ctx.Done():
	}
	cmd.Process.Kill()
	<-s.exited
	return nil, errors.New("the server did not print its URL within 30 s")
}

func waitReady(ctx context.Context, client *http.Client, s *server) error {
	for range 100 {
		resp, err := client.Get(s.url + "/")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && string(body) == "Hello" {
				return nil
			}
			return fmt.Errorf("GET / answered %d %q, want 200 \"Hello\"", resp.StatusCode, body)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return errors.New("the server does not answer GET /")
}

// loader runs the workers.
type loader struct {
	cfg     config
	srv     *server
	client  *http.Client
	app     *appFiles
	uploads []upload

	start    time.Time
	done     atomic.Int64 // requests finished, any outcome
	errCount atomic.Int64
	errMu    sync.Mutex
	errShown []string
}

// workerStats is one worker's own tally, merged at the end.
type workerStats struct {
	count [numKinds]int
	errs  [numKinds]int
	lat   [numKinds][]time.Duration
	bytes [numKinds]int64 // body bytes sent or received
	slow  []slowRequest   // this worker's slowest, at most numSlowest
}

// slowRequest is one of the slowest requests: when several kinds are slow
// at the same moment, the whole server (or the machine) stalled.
type slowRequest struct {
	k     kind
	start time.Duration // since the load began
	took  time.Duration
}

const numSlowest = 5

// note keeps the numSlowest slowest requests.
func (st *workerStats) note(r slowRequest) {
	if len(st.slow) == numSlowest && r.took <= st.slow[numSlowest-1].took {
		return
	}
	st.slow = append(st.slow, r)
	slices.SortFunc(st.slow, func(a, b slowRequest) int { return cmp.Compare(b.took, a.took) })
	st.slow = st.slow[:min(len(st.slow), numSlowest)]
}

// sample is one reading of the server, once a second during the load.
type sample struct {
	t       time.Duration
	rss     int64 // bytes
	threads int
	done    int64
	cpu     time.Duration // the server's user + system time so far
}

func (l *loader) runFor(ctx context.Context, r *report) {
	loadCtx, cancel := context.WithTimeout(ctx, l.cfg.duration)
	defer cancel()
	stats := make([]*workerStats, l.cfg.workers)
	var wg sync.WaitGroup
	l.start = time.Now()
	r.samples = append(r.samples, l.sample())
	go func() {
		// A server that dies ends the load at once.
		select {
		case <-l.srv.exited:
			l.fail("server", fmt.Errorf("the server exited during the load: %v", l.srv.waitErr))
			cancel()
		case <-loadCtx.Done():
		}
	}()
	for i := range stats {
		stats[i] = &workerStats{}
		seq := l.sequence(uint64(i))
		rng := rand.New(rand.NewPCG(l.cfg.seed, uint64(1000+i)))
		wg.Go(func() { l.work(loadCtx, stats[i], seq, rng) })
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
sampling:
	for {
		select {
		case <-tick.C:
			r.samples = append(r.samples, l.sample())
			if len(r.samples)%10 == 1 {
				s := r.samples[len(r.samples)-1]
				fmt.Printf("soak: %3.0f s  %8d requests  RSS %6.1f MiB  errors %d\n",
					s.t.Seconds(), s.done, mib(s.rss), l.errCount.Load())
			}
		case <-loadCtx.Done():
			break sampling
		}
	}
	// The end, the load still running; it replaces a tick that came at the
	// same moment.
	if last := r.samples[len(r.samples)-1]; time.Since(l.start)-last.t < 500*time.Millisecond {
		r.samples = r.samples[:len(r.samples)-1]
	}
	r.samples = append(r.samples, l.sample())
	r.elapsed = time.Since(l.start)
	wg.Wait()
	r.drain = time.Since(l.start) - r.elapsed
	r.interrupted = ctx.Err() != nil
	for _, s := range stats {
		for k := range numKinds {
			r.count[k] += s.count[k]
			r.errs[k] += s.errs[k]
			r.bytes[k] += s.bytes[k]
			r.lat[k] = append(r.lat[k], s.lat[k]...)
		}
		r.slow = append(r.slow, s.slow...)
	}
	r.errCount = l.errCount.Load()
	r.errShown = l.errShown
}

// sequence is a worker's cycle through the mix: each kind as many times as
// its share, in an order of the worker's own.
func (l *loader) sequence(worker uint64) []kind {
	var seq []kind
	for k, n := range l.cfg.mix {
		for range n {
			seq = append(seq, kind(k))
		}
	}
	rng := rand.New(rand.NewPCG(l.cfg.seed, worker))
	rng.Shuffle(len(seq), func(i, j int) { seq[i], seq[j] = seq[j], seq[i] })
	return seq
}

func (l *loader) work(ctx context.Context, st *workerStats, seq []kind, rng *rand.Rand) {
	// Workers start at different places of their cycle so that the kinds
	// are spread over time from the first second.
	for i := rng.IntN(len(seq)); ctx.Err() == nil; i++ {
		k := seq[i%len(seq)]
		t0 := time.Now()
		n, err := l.do(k, rng)
		d := time.Since(t0)
		st.count[k]++
		st.bytes[k] += n
		st.lat[k] = append(st.lat[k], d)
		st.note(slowRequest{k, t0.Sub(l.start), d})
		if err != nil {
			st.errs[k]++
			l.fail(kindNames[k], err)
		}
		l.done.Add(1)
	}
}

func (l *loader) fail(what string, err error) {
	l.errCount.Add(1)
	l.errMu.Lock()
	defer l.errMu.Unlock()
	if len(l.errShown) < maxErrShown {
		l.errShown = append(l.errShown, fmt.Sprintf("%6.2f s %-9s %v", time.Since(l.start).Seconds(), what, err))
	}
}

// do sends one request of kind k and checks the answer. Requests are not
// tied to the load's context: one started before the end runs to its end.
func (l *loader) do(k kind, rng *rand.Rand) (int64, error) {
	switch k {
	case kHello:
		resp, err := l.get("/")
		body, err := l.expect(resp, err, "GET /")
		if err == nil && string(body) != "Hello" {
			err = fmt.Errorf("GET /: body %q, want \"Hello\"", clip(body))
		}
		return int64(len(body)), err
	case kAPI:
		a, b := rng.IntN(1_000_000), rng.IntN(1_000_000)
		form := url.Values{"json": {fmt.Sprintf(`["soak.add",[%d,%d],{}]`, a, b)}}
		resp, err := l.client.PostForm(l.srv.url+"/api", form)
		body, err := l.expect(resp, err, "POST /api soak.add")
		want := fmt.Sprintf(`{"n":%d,"sum":%d}`, len(strconv.Itoa(a)), a+b)
		if err == nil && string(bytes.TrimSpace(body)) != want {
			err = fmt.Errorf("POST /api soak.add(%d, %d): body %q, want %s", a, b, clip(body), want)
		}
		return int64(len(body)), err
	case kStatic:
		f := l.app.static[rng.IntN(len(l.app.static))]
		resp, err := l.get(f.path)
		body, err := l.expect(resp, err, "GET "+f.path)
		if err == nil && (len(body) != f.size || sha256.Sum256(body) != f.sha256) {
			err = fmt.Errorf("GET %s: %d bytes that differ from the file's %d", f.path, len(body), f.size)
		}
		return int64(len(body)), err
	case kUpload:
		return l.upload(rng)
	case kWebSocket:
		return l.webSocket(rng)
	}
	panic("unknown kind")
}

func (l *loader) get(path string) (*http.Response, error) {
	return l.client.Get(l.srv.url + path)
}

// expect reads a whole answer and wants a 2xx.
func (l *loader) expect(resp *http.Response, err error, what string) ([]byte, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return body, fmt.Errorf("%s: reading the body: %w", what, err)
	}
	if resp.StatusCode/100 != 2 {
		return body, fmt.Errorf("%s: status %d: %q", what, resp.StatusCode, clip(body))
	}
	return body, nil
}

func (l *loader) upload(rng *rand.Rand) (int64, error) {
	up := l.uploads[rng.IntN(len(l.uploads))]
	mode := "hash"
	if rng.IntN(2) == 0 {
		mode = "read"
	}
	// The multipart framing around the file, written once; the file itself
	// is streamed from the shared buffer.
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	mw.WriteField("mode", mode)
	if _, err := mw.CreateFormFile("file", "upload.bin"); err != nil {
		return 0, err
	}
	n := head.Len()
	mw.Close()
	tail := bytes.Clone(head.Bytes()[n:])
	head.Truncate(n)
	size := int64(head.Len() + len(up.data) + len(tail))
	req, err := http.NewRequest("POST", l.srv.url+"/upload", io.MultiReader(&head, bytes.NewReader(up.data), bytes.NewReader(tail)))
	if err != nil {
		return 0, err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := l.client.Do(req)
	what := fmt.Sprintf("POST /upload (%d bytes, %s)", len(up.data), mode)
	body, err := l.expect(resp, err, what)
	if err == nil && string(body) != up.expect {
		err = fmt.Errorf("%s: body %q, want %q", what, clip(body), up.expect)
	}
	return size, err
}

// webSocket opens /echo, sends wsMessages messages one at a time (text or
// binary, 16 B to 4 KiB), wants each echoed unchanged, and closes with 1000.
func (l *loader) webSocket(rng *rand.Rand) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(l.srv.url, "http") + "/echo"
	c, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPClient: l.client})
	if err != nil {
		return 0, fmt.Errorf("WebSocket /echo: dial: %w", err)
	}
	defer c.CloseNow()
	var n int64
	for i := range wsMessages {
		typ := websocket.MessageText
		if rng.IntN(4) == 0 {
			typ = websocket.MessageBinary
		}
		msg := randomText(rng, 16+rng.IntN(4096-16))
		if err := c.Write(ctx, typ, msg); err != nil {
			return n, fmt.Errorf("WebSocket /echo: write %d: %w", i, err)
		}
		gotTyp, got, err := c.Read(ctx)
		if err != nil {
			return n, fmt.Errorf("WebSocket /echo: read %d: %w", i, err)
		}
		if gotTyp != typ || !bytes.Equal(got, msg) {
			return n, fmt.Errorf("WebSocket /echo: message %d: got %v %d bytes, want %v %d bytes, same content", i, gotTyp, len(got), typ, len(msg))
		}
		n += int64(len(msg))
	}
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		return n, fmt.Errorf("WebSocket /echo: close: %w", err)
	}
	return n, nil
}

func clip(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

func (l *loader) sample() sample {
	st := procStatus(l.srv.pid)
	return sample{t: time.Since(l.start), rss: st.rss, threads: st.threads, done: l.done.Load(), cpu: procCPU(l.srv.pid)}
}

// state is what /proc tells about the server at one moment.
type state struct {
	rss, hwm  int64 // bytes
	threads   int
	fds       int
	tempFiles int
	cpu       time.Duration // user + system
}

type status struct {
	rss, hwm int64
	threads  int
}

func procStatus(pid int) status {
	var st status
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st
	}
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			st.rss = n << 10
		case "VmHWM:":
			st.hwm = n << 10
		case "Threads:":
			st.threads = int(n)
		}
	}
	return st
}

func snapshot(s *server) state {
	st := procStatus(s.pid)
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.pid))
	temps, _ := os.ReadDir(s.tempDir)
	return state{rss: st.rss, hwm: st.hwm, threads: st.threads, fds: len(fds), tempFiles: len(temps), cpu: procCPU(s.pid)}
}

// procCPU is the user and system time of a process from /proc/PID/stat.
func procCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is field 3, utime 14, stime 15.
	rest := string(data[bytes.LastIndexByte(data, ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticksPerSecond = 100 // USER_HZ on every Linux Go supports
	return time.Duration(ut+stime) * time.Second / ticksPerSecond
}

// settle waits up to 10 s for the server's open fds to come back to the
// count before the load, then snapshots it.
func settle(s *server, fdsBefore int) state {
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := snapshot(s)
		if (st.fds <= fdsBefore && st.tempFiles == 0) || time.Now().After(deadline) {
			return st
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type shutdownResult struct {
	took time.Duration
	err  error
	tail []string
}

// shutdown sends SIGTERM and waits for the process, as an operator would.
func shutdown(s *server) shutdownResult {
	t0 := time.Now()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return shutdownResult{took: time.Since(t0), err: s.waitErr}
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
		return shutdownResult{took: time.Since(t0), err: errors.New("still running 30 s after SIGTERM; killed")}
	}
}

// readLog counts the server's log lines other than the "serving" lines and
// returns the first few.
func readLog(path string, n int) (int, []string) {
	data, _ := os.ReadFile(path)
	count := 0
	var head []string
	for line := range strings.Lines(string(data)) {
		line = strings.TrimRight(line, "\n")
		if line == "" || strings.Contains(line, "hwebserver: serving ") {
			continue
		}
		count++
		if len(head) < n {
			head = append(head, line)
		}
	}
	return count, head
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
