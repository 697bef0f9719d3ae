// Package browser drives a real headless Chromium for the tests of Orc's web
// console. It wraps github.com/chromedp/chromedp so that a test reads as a
// list of steps, each bounded by a timeout, each failing the test with a
// clear message and a screenshot when it goes wrong.
//
// A test starts a browser, drives a desktop tab, and can open a phone-sized
// tab beside it:
//
//	func TestConsoleSignIn(t *testing.T) {
//		b := browser.New(t) // 1280x900, closed when the test ends
//		b.Navigate(t, srv.URL+"/console/")
//		b.SetValue(t, "#email", "ada@example.com")
//		b.Click(t, "button[type=submit]")
//		b.WaitVisible(t, "#plugins")
//		if got := b.Text(t, "h1"); got != "Plugins" {
//			t.Errorf("heading = %q, want Plugins", got)
//		}
//		if errs := b.ConsoleErrors(); len(errs) > 0 {
//			t.Errorf("the page logged errors: %q", errs)
//		}
//
//		m := b.Mobile(t) // a second tab, 375 px wide, same cookies
//		m.Navigate(t, srv.URL+"/console/plugins")
//		m.Screenshot(t, filepath.Join(t.ArtifactDir(), "plugins-mobile.png"))
//	}
//
// Selectors are CSS selectors. A step that needs something this package does
// not wrap goes through [Browser.Run] (actions that return nothing) or
// [Result] (an action that returns a value), under the same timeout.
//
// # Notes
//
//   - Chromium is Debian's `chromium` package, found on PATH or at
//     ORC_CHROMIUM; deploy/local/test-deps.sh installs it. A missing Chromium
//     fails the test, also under -short: like the project's other services,
//     a browser test that cannot run is a failure, never a skip.
//   - Each [New] starts its own Chromium with a fresh profile in t.TempDir()
//     (0.5-2.5 s on the 2-core CI machine, and about 400 MB of memory with
//     two tabs open): a test's subtests should share one Browser.
//   - Chromium runs without its sandbox only when the test runs as root, as
//     CI does: Chromium refuses to start as root with the sandbox on.
//   - Every step is bounded by a timeout, 15 s unless [Browser.WithTimeout]
//     says otherwise; starting Chromium is bounded by its own minute.
//   - On a failed step the page's screenshot is saved as <TestName>-<tab>.png
//     in ORC_SCREENSHOTS when it is set, and otherwise in t.ArtifactDir(),
//     which `go test -artifacts` keeps (plain `go test` removes it).
//   - [Browser.ConsoleErrors] lists what the tab logged as an error since it
//     opened: console.error and failed console.assert calls, uncaught
//     exceptions, and the browser's own error log, which carries Content
//     Security Policy violations and failed loads (Chromium asks for
//     /favicon.ico after each load: a 404 there is an error too). Messages
//     arrive as the page runs: read them after a step that waits for the
//     page's work.
//   - A Browser is one tab: its methods are not for concurrent use. Tabs of
//     one browser (from [Browser.Mobile]) may be driven from different
//     goroutines.
package browser
