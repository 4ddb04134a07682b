package statuspage

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
)

// chromium finds Debian's chromium. Without it the browser test cannot
// run: a developer machine skips loudly (make test repeats it), CI fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed, so the browser test cannot run; .ci/run installs it (apt-get install chromium)")
	}
	t.Skip("BROWSER TEST DID NOT RUN: chromium is not installed (apt-get install -y chromium)")
	return ""
}

// artifactDir is where screenshots go: $CERTROTATOR_ARTIFACTS when set,
// else the test's temp dir.
func artifactDir(t *testing.T) string {
	if d := os.Getenv("CERTROTATOR_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// TestStatusPageInBrowser loads the status page in headless chromium at a
// phone's width, records a second rotation in the source and waits for the
// connector's row to show the new certificate without a reload.
func TestStatusPageInBrowser(t *testing.T) {
	exe := chromium(t)
	start := time.Now()
	const newThumb = "0123456789ABCDEF0123456789ABCDEF01234567"
	job := workertest.Job()
	job.Schedule = "0 */6 * * *"
	next, err := config.ParseSchedule(job.Schedule)
	if err != nil {
		t.Fatal(err)
	}
	job.Next = next
	src := newMemSource()
	src.record(time.Now(), succeeded(job, "browser-1")...)
	src.record(time.Now(), jobs.Outcome{Job: workertest.JobName, RequestID: "browser-bad", Status: contract.StatusFailed, Final: true,
		Error: &jobs.ErrorInfo{Code: contract.CodeBadRequest, Class: jobs.ClassPermanent, Message: "no connector nope in job contoso-api"}})
	srv := newTestServer(t, newTestPage(src, job))
	defer src.stop() // ends the page's event stream before the server closes

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(390, 844), // a phone
	)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(alloc)
	defer cancelCtx()
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	row := `tr[data-key="` + workertest.JobName + `.` + workertest.Conn1 + `"]`
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-key="`+workertest.JobName+`._"]`)),
		chromedp.WaitVisible(chromedp.CSS(row+`[data-thumbprint="`+workertest.Thumbprint+`"]`)),
		// Live once the event stream delivered; a reload would clear the mark.
		chromedp.WaitVisible(chromedp.Search(`//span[@id="live" and text()="live"]`)),
		chromedp.Evaluate[chromedp.Void](`window.__noReload = true`),
	); err != nil {
		t.Fatalf("loading the page: %v", err)
	}
	before, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(row)))
	if err != nil {
		t.Fatalf("reading the row: %v", err)
	}
	loaded := time.Now()
	second := succeeded(job, "browser-2")
	for i := range second {
		second[i].Previous = &jobs.CertInfo{Thumbprint: workertest.Thumbprint, NotAfter: second[i].Certificate.NotAfter}
		second[i].Certificate = &jobs.CertInfo{Thumbprint: newThumb, Subject: "CN=api.contoso.example",
			NotAfter: time.Now().Add(10*24*time.Hour + time.Hour), SourceVersion: 4}
	}
	src.record(time.Now(), second...)
	// 10 days left is within the default 14-day threshold: amber.
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(row+`[data-thumbprint="`+newThumb+`"] td.days.warn`))); err != nil {
		t.Fatalf("waiting for the row to change: %v (row before: %q)", err, before)
	}
	changed := time.Since(loaded)
	after, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(row)))
	if err != nil {
		t.Fatalf("reading the row: %v", err)
	}
	noReload, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__noReload === true`))
	if err != nil {
		t.Fatalf("reading the mark: %v", err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatalf("taking the screenshot: %v", err)
	}
	if !noReload {
		t.Error("the page reloaded; it must update in place")
	}
	for _, want := range []string{"v4", "10 days", "succeeded", " UTC"} {
		if !strings.Contains(after, want) {
			t.Errorf("row after the rotation lacks %q: %q", want, after)
		}
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("widening the viewport: %v", err)
	}
	wide, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("taking the desktop screenshot: %v", err)
	}
	dir := artifactDir(t)
	path := filepath.Join(dir, "status-page-phone.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "status-page-desktop.png"), wide, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("row changed %s after the request; whole test %s; screenshot %s", changed.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), path)
}
