// Package browsertest drives the Integrations page in a real headless Chromium (the one the
// npm package @sparticuz/chromium ships, pinned in web/package-lock.json) against the local
// stack: the standalone host page and its token endpoint (local.PageServer), the API behind
// the local gateway with its CORS configuration, the router and delivery handlers built by
// package app and driven by infra/local's SQSPoller, and real receivers (httptest). The page
// is served with its strict Content-Security-Policy; every test fails on a CSP violation or
// an uncaught script error.
//
// Run with the emulators (make test does; it also installs web/'s npm packages):
//
//	go run ./infra/local/cmd/stack emulators -- go test ./web/browsertest/
//
// SCREENSHOTS=<dir> writes the screenshots of the main screens there (make screenshots
// writes docs/images/).
package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/dealerai/integrations/infra/local"
	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/app"
	"github.com/dealerai/integrations/shared/resources"
	"github.com/dealerai/integrations/shared/subscriptions"
)

// webDir is the folder of the page's sources and npm packages, from this package.
const webDir = ".."

// suite is the system every test of the page shares: one stack, one browser. Each test
// opens its own tab, as its own dealer.
type suite struct {
	env     *localtest.Env
	cfg     app.Config
	subs    *subscriptions.Store
	issuer  *local.Issuer
	apiURL  string
	pageURL string
	browser context.Context
	axe     string // axe-core's source
	shots   string // where screenshots go
}

func newSuite(t *testing.T) *suite {
	t.Helper()
	localtest.Integration(t)
	if _, err := os.Stat(filepath.Join(webDir, "node_modules", "lit")); err != nil {
		t.Fatal("web/node_modules is missing: run `make test` (it runs npm ci in web/)")
	}
	s := &suite{shots: os.Getenv("SCREENSHOTS")}
	if s.shots == "" {
		s.shots = t.TempDir()
	} else if err := os.MkdirAll(s.shots, 0o755); err != nil {
		t.Fatal(err)
	}
	bundle := t.TempDir()
	node(t, "build.mjs", "--outdir", bundle)
	chromium := strings.TrimSpace(node(t, "-e", `import("@sparticuz/chromium").then(async (m) => process.stdout.write(await m.default.executablePath()))`))
	axe, err := os.ReadFile(filepath.Join(webDir, "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	s.axe = string(axe)

	s.env = localtest.New(t)
	vars := s.env.Names.Env()
	vars["ALLOW_ENDPOINT_CIDRS"] = "127.0.0.0/8,::1/128" // what make dev sets: receivers on this machine
	vars["ALLOW_HTTP_ENDPOINTS"] = "true"
	vars["DELIVERY_BACKOFF"] = "1s,1s,1s" // what DELIVERY_BACKOFF=1s,1s,1s make dev sets
	if s.cfg, err = app.ConfigFromEnv(func(k string) string { return vars[k] }); err != nil {
		t.Fatal(err)
	}
	s.cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	s.subs = subscriptions.NewStore(s.env.DynamoDB, s.cfg.ConfigTable)
	ctx := context.Background()
	api, err := app.NewAPI(ctx, s.env.AWS, s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.issuer, err = local.NewEphemeralIssuer(); err != nil {
		t.Fatal(err)
	}
	// The page and the API on two origins, as the portal and API Gateway are: every call of
	// the page is a CORS request the gateway must allow.
	page := httptest.NewServer(nil)
	t.Cleanup(page.Close)
	gateway := httptest.NewServer(&local.Gateway{Issuer: s.issuer, API: api, CORSOrigins: []string{page.URL}})
	t.Cleanup(gateway.Close)
	page.Config.Handler = &local.PageServer{Dir: bundle, APIURL: gateway.URL, Issuer: s.issuer}
	s.apiURL, s.pageURL = gateway.URL, page.URL

	router, err := app.NewRouter(ctx, s.env.AWS, s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	deliver, err := app.NewDelivery(ctx, s.env.AWS, s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.env.StartPoller(t, resources.EventsQueue, router, resources.RouterTimeout, 2)
	s.env.StartPoller(t, resources.DeliveriesQueue, deliver, resources.DeliveryTimeout, 4)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if _, err := chromedp.Run(browser, chromedp.Evaluate[chromedp.Void]("1")); err != nil {
		t.Fatalf("start Chromium %s: %v", chromium, err)
	}
	s.browser = browser
	return s
}

// node runs node in web/ and returns its standard output.
func node(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("node", args...)
	cmd.Dir = webDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// ---- the API, for setting up and checking what the page did ----

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// call sends an API request as dealer through the gateway, with a real token.
func (s *suite) call(t *testing.T, method, path, dealer string, body any, header map[string]string) *response {
	t.Helper()
	tok, err := s.issuer.Token(dealer, "")
	if err != nil {
		t.Fatal(err)
	}
	return s.send(t, method, path, tok, body, header)
}

// admin sends an API request as DealerAI staff (the admin scope), for plans.
func (s *suite) admin(t *testing.T, method, path string, body any) *response {
	t.Helper()
	tok, err := s.issuer.AdminToken("", "")
	if err != nil {
		t.Fatal(err)
	}
	return s.send(t, method, path, tok, body, nil)
}

// send sends an API request through the gateway with a token.
func (s *suite) send(t *testing.T, method, path, tok string, body any, header map[string]string) *response {
	t.Helper()
	var reader io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		reader = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, s.apiURL+path, reader)
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return &response{status: resp.StatusCode, header: resp.Header, body: out}
}

type subscriptionView struct {
	ID             string   `json:"id"`
	URL            string   `json:"url"`
	Events         []string `json:"events"`
	Description    string   `json:"description"`
	Enabled        bool     `json:"enabled"`
	DisabledReason *string  `json:"disabledReason"`
	Secret         string   `json:"secret"`
}

// subscribe creates a subscription of dealer through the API.
func (s *suite) subscribe(t *testing.T, dealer, url string, events ...string) subscriptionView {
	t.Helper()
	r := s.call(t, "POST", "/v1/subscriptions", dealer, map[string]any{"url": url, "events": events, "description": "created by the test"}, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("create subscription: %d %s", r.status, r.body)
	}
	var v subscriptionView
	r.decode(t, &v)
	return v
}

// ---- receivers ----

// receiver is a webhook endpoint: it answers with status and body (changeable) and counts
// the requests.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	body   string
	count  int
}

func newReceiver(t *testing.T, status int, body string) *receiver {
	rc := &receiver{status: status, body: body}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		rc.mu.Lock()
		rc.count++
		status, body := rc.status, rc.body
		rc.mu.Unlock()
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) answer(status int, body string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.status, rc.body = status, body
}

func (rc *receiver) requests() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.count
}

// ---- a tab ----

// tab is one browser tab showing the standalone page as one dealer.
type tab struct {
	t   *testing.T
	s   *suite
	ctx context.Context

	mu       sync.Mutex
	problems []string // uncaught exceptions and console errors
}

// recordViolations collects the page's CSP violations in window.__csp (installed before any
// script of the page runs; the DevTools protocol is not bound by the page's CSP).
const recordViolations = `window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`

// open opens the standalone page in a new tab as dealer, with more query parameters, and
// waits for the component to show its first screen.
func (s *suite) open(t *testing.T, dealer, query string) *tab {
	t.Helper()
	tb := &tab{t: t, s: s}
	ctx, cancel := chromedp.NewContext(s.browser, chromedp.WithListener(tb.listen))
	t.Cleanup(cancel)
	tb.ctx = ctx
	// The first run opens the tab, which lives as long as the context of that run: no timeout.
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: recordViolations})
		return err
	}))
	if err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	// A person's browser lets a page they use write to the clipboard on a click.
	clipboard := browser.SetPermissionParams{Permission: &browser.PermissionDescriptor{Name: "clipboard-write"}, Setting: browser.PermissionSettingGranted, Origin: s.pageURL}
	if _, err := chromedp.CallBrowser(ctx, browser.SetPermission, clipboard); err != nil {
		t.Fatalf("clipboard permission: %v", err)
	}
	tb.do(chromedp.Navigate(s.pageURL + "/?dealer=" + dealer + query))
	tb.waitText("Integrations")
	t.Cleanup(tb.checkClean)
	return tb
}

func (tb *tab) listen(ev any) {
	var problem string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		problem = fmt.Sprintf("uncaught exception: %s (%s:%d)", d.Text, d.URL, d.LineNumber)
		if d.Exception != nil {
			problem += " " + d.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			problem = "console error: " + strings.Join(parts, " ")
		}
	}
	if problem != "" {
		tb.mu.Lock()
		tb.problems = append(tb.problems, problem)
		tb.mu.Unlock()
	}
}

// checkClean fails the test on a CSP violation, an uncaught exception or a console error of
// the page, and when a token reached the page's storage.
func (tb *tab) checkClean() {
	tb.t.Helper()
	if violations := eval[[]string](tb, `window.__csp`); len(violations) > 0 {
		tb.t.Errorf("Content-Security-Policy violations: %v", violations)
	}
	if n := eval[int](tb, `localStorage.length + sessionStorage.length`); n != 0 {
		tb.t.Errorf("the page stored %d items in web storage", n)
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, p := range tb.problems {
		tb.t.Error(p)
	}
}

// do runs actions in the tab, failing the test on an error.
func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("browser: %v", err)
	}
}

// eval evaluates a script in the page (awaiting a promise) and decodes its result.
func eval[T any](tb *tab, script string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](script, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", script, err)
	}
	return v
}

// root is the component's shadow root, as a script expression.
const root = `document.querySelector("dealerai-integrations").shadowRoot`

// q is the first element of the component matching a CSS selector.
func q(selector string) chromedp.JSPath {
	return chromedp.JSPath(fmt.Sprintf(`%s.querySelector(%q)`, root, selector))
}

// button is the visible button of the component whose text starts with label.
func button(label string) chromedp.JSPath {
	return chromedp.JSPath(fmt.Sprintf(`[...%s.querySelectorAll("button")].find((b) => b.offsetParent !== null && b.textContent.trim().startsWith(%q))`, root, label))
}

// in narrows a selector to the element matching a CSS selector (e.g. one table row).
func in(container, selector string) chromedp.JSPath {
	return chromedp.JSPath(fmt.Sprintf(`%s.querySelector(%q)?.querySelector(%q)`, root, container, selector))
}

func (tb *tab) click(sel chromedp.JSPath) {
	tb.t.Helper()
	tb.do(chromedp.Click(sel, chromedp.NodeVisible))
}

// fill empties an input and types text into it, as a person would.
func (tb *tab) fill(sel chromedp.JSPath, text string) {
	tb.t.Helper()
	tb.do(chromedp.WaitVisible(sel))
	eval[chromedp.Void](tb, fmt.Sprintf(`(() => { const e = %s; e.value = ""; e.dispatchEvent(new Event("input", {bubbles: true})); })()`, sel))
	tb.do(chromedp.SendKeys(sel, text, chromedp.NodeVisible))
}

// selectOption picks an option of a select element, as choosing it with the mouse does.
func (tb *tab) selectOption(sel chromedp.JSPath, value string) {
	tb.t.Helper()
	eval[chromedp.Void](tb, fmt.Sprintf(`(() => { const s = %s; s.value = %q; s.dispatchEvent(new Event("change", {bubbles: true})); })()`, sel, value))
}

// text is the rendered text of the component.
func (tb *tab) text() string {
	tb.t.Helper()
	return eval[string](tb, root+`.textContent.replace(/\s+/g, " ")`)
}

// waitFor polls a script condition until it is true (45 s at most: the stack shares two
// cores with everything else make test runs).
func (tb *tab) waitFor(what, cond string) {
	tb.t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for !eval[bool](tb, "!!("+cond+")") {
		if time.Now().After(deadline) {
			tb.t.Fatalf("timed out waiting for %s; the page shows: %s", what, tb.text())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitText waits until the component's text contains s.
func (tb *tab) waitText(s string) {
	tb.t.Helper()
	tb.waitFor(fmt.Sprintf("the text %q", s), fmt.Sprintf(`document.querySelector("dealerai-integrations")?.shadowRoot?.textContent.replace(/\s+/g, " ").includes(%q)`, s))
}

// ---- keyboard ----

// activeElement is the element that has the keyboard focus, inside shadow roots.
const activeElement = `(() => { let a = document.activeElement; while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement; return a; })()`

// tabTo presses Tab until the focused element satisfies pred (a script of the element a), and
// checks that the focus is visible there.
func (tb *tab) tabTo(what, pred string) {
	tb.t.Helper()
	check := fmt.Sprintf(`((a) => !!a && (%s))(%s)`, pred, activeElement)
	for i := 0; i < 80; i++ {
		if eval[bool](tb, check) {
			outline := eval[string](tb, fmt.Sprintf(`((a) => getComputedStyle(a).outlineStyle + " " + a.matches(":focus-visible"))(%s)`, activeElement))
			if outline != "solid true" {
				tb.t.Errorf("%s has the focus but no visible focus indicator (%s)", what, outline)
			}
			return
		}
		tb.do(chromedp.KeyEvent(kb.Tab))
	}
	tb.t.Fatalf("Tab never reached %s; the focus is on %s", what, eval[string](tb, activeElement+`?.outerHTML.slice(0, 200)`))
}

// press sends keys to the focused element.
func (tb *tab) press(keys string) {
	tb.t.Helper()
	tb.do(chromedp.KeyEvent(keys))
}

// ---- accessibility and screenshots ----

type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// checkAccessibility runs axe-core on the page as it is and fails on serious or critical
// violations.
func (tb *tab) checkAccessibility(screen string) {
	tb.t.Helper()
	if !eval[bool](tb, `typeof axe !== "undefined"`) {
		eval[chromedp.Void](tb, tb.s.axe)
	}
	found := eval[[]axeViolation](tb, `axe.run(document, {resultTypes: ["violations"]}).then((r) => r.violations
		.filter((v) => v.impact === "serious" || v.impact === "critical")
		.map((v) => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ") + ": " + n.failureSummary)})))`)
	for _, v := range found {
		tb.t.Errorf("axe on %s: %s (%s): %s\n  %s", screen, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n  "))
	}
}

// screenshot writes the component (without the standalone page's bar) as name.png into
// the screenshot folder, and checks the page for accessibility first.
func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	tb.checkAccessibility(name)
	// no focus ring in the pictures
	eval[chromedp.Void](tb, activeElement+`?.blur()`)
	shot, err := chromedp.Run(tb.ctx, chromedp.Screenshot(chromedp.JSPath(`document.querySelector("dealerai-integrations")`)))
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", name, err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		tb.t.Fatal(err)
	}
	var out bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&out, quantize(img)); err != nil {
		tb.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tb.s.shots, name+".png"), out.Bytes(), 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// quantize reduces a screenshot to its 256 most frequent colours (each other colour becomes
// the nearest of them): user-interface screenshots are mostly flat colours, and a paletted
// PNG is a fraction of the size.
func quantize(img image.Image) *image.Paletted {
	b := img.Bounds()
	counts := map[color.RGBA]int{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			counts[color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)]++
		}
	}
	colors := make([]color.RGBA, 0, len(counts))
	for c := range counts {
		colors = append(colors, c)
	}
	slices.SortFunc(colors, func(a, b color.RGBA) int { return counts[b] - counts[a] })
	palette := make(color.Palette, 0, 256)
	for _, c := range colors[:min(256, len(colors))] {
		palette = append(palette, c)
	}
	out := image.NewPaletted(b, palette)
	index := map[color.RGBA]uint8{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			i, ok := index[c]
			if !ok {
				i = uint8(palette.Index(c))
				index[c] = i
			}
			out.SetColorIndex(x, y, i)
		}
	}
	return out
}
