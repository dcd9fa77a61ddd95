package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"syscall"
	"time"
)

// Client talks to a daemon's control socket. It is safe for concurrent use.
type Client struct {
	socket string
	hc     *http.Client
}

// NewClient returns a client for the control socket at path. Nothing is
// dialled until the first call.
func NewClient(path string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		MaxIdleConns:    2,
		IdleConnTimeout: 10 * time.Second,
	}
	return &Client{socket: path, hc: &http.Client{Transport: tr}}
}

// Close releases idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// do sends a request and decodes the answer into out (if non-nil). An error
// answer becomes an *Error; a daemon that is not listening becomes an *Error
// with CodeNotRunning.
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	n := int64(0)
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("control: encoding request: %w", err)
		}
		// The body may hold a passphrase: it is wiped once the transport
		// has sent it and closed it.
		rd, n = &wipeOnClose{Reader: bytes.NewReader(b), buf: b}, int64(len(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://launcher"+APIPrefix+path, rd)
	if err != nil {
		return fmt.Errorf("control: %w", err)
	}
	req.ContentLength = n
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return &Error{Code: CodeNotRunning, Message: fmt.Sprintf("the launcher daemon is not running (nothing listens on %s)", c.socket)}
		}
		return fmt.Errorf("control: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("control: reading answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var eb errorBody
		if json.Unmarshal(data, &eb) == nil && eb.Error != nil && eb.Error.Code != "" {
			return eb.Error
		}
		return &Error{Code: CodeInternal, Message: fmt.Sprintf("control: %s %s: HTTP %d", method, path, resp.StatusCode)}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("control: decoding answer: %w", err)
		}
	}
	return nil
}

// wipeOnClose is a request body that zeroes its bytes when the transport
// closes it (which it does once it has sent them, or given up).
type wipeOnClose struct {
	*bytes.Reader
	buf  []byte
	once sync.Once
}

func (w *wipeOnClose) Close() error {
	w.once.Do(func() { clear(w.buf) })
	return nil
}

// Status returns the daemon's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	err := c.do(ctx, "GET", "status", nil, &s)
	return s, err
}

// Apps lists the registered apps, sorted by name.
func (c *Client) Apps(ctx context.Context) ([]AppInfo, error) {
	var a []AppInfo
	err := c.do(ctx, "GET", "apps", nil, &a)
	return a, err
}

// Add registers an app.
func (c *Client) Add(ctx context.Context, r AddRequest) (AppInfo, error) {
	var a AppInfo
	err := c.do(ctx, "POST", "apps", r, &a)
	return a, err
}

// Remove unregisters an app, ending its sessions; purge also deletes its
// private root.
func (c *Client) Remove(ctx context.Context, name string, purge bool) (RemoveResult, error) {
	var r RemoveResult
	p := "apps/" + url.PathEscape(name)
	if purge {
		p += "?purge=true"
	}
	err := c.do(ctx, "DELETE", p, nil, &r)
	return r, err
}

// Roots lists the private roots in the store that no app owns.
func (c *Client) Roots(ctx context.Context) ([]string, error) {
	var r RootsResult
	err := c.do(ctx, "GET", "roots", nil, &r)
	return r.Roots, err
}

// PurgeRoot deletes a private root that no app owns, with everything in it.
func (c *Client) PurgeRoot(ctx context.Context, root string) error {
	return c.do(ctx, "DELETE", "roots/"+url.PathEscape(root), nil, nil)
}

// Grant gives the app SAFEDrive access.
func (c *Client) Grant(ctx context.Context, name string) (AppInfo, error) {
	var a AppInfo
	err := c.do(ctx, "POST", "apps/"+url.PathEscape(name)+"/grant", nil, &a)
	return a, err
}

// Revoke takes the app's SAFEDrive access away.
func (c *Client) Revoke(ctx context.Context, name string) (AppInfo, error) {
	var a AppInfo
	err := c.do(ctx, "POST", "apps/"+url.PathEscape(name)+"/revoke", nil, &a)
	return a, err
}

// Launch starts the app with a fresh launcher string.
func (c *Client) Launch(ctx context.Context, name string, r LaunchRequest) (LaunchResult, error) {
	var res LaunchResult
	err := c.do(ctx, "POST", "apps/"+url.PathEscape(name)+"/launch", r, &res)
	return res, err
}

// Token mints a launcher string for the app and returns its --launcher value.
func (c *Client) Token(ctx context.Context, name string) (string, error) {
	var t TokenResult
	err := c.do(ctx, "POST", "apps/"+url.PathEscape(name)+"/token", nil, &t)
	return t.Value, err
}

// Unlock sends the passphrase to the daemon, which checks it (about half a
// second, more after repeated failures: see docs/security.md) and unlocks.
// A wrong passphrase is ErrWrongPassphrase. ctx should allow for the
// back-off (up to 30 s). passphrase is not changed; the caller wipes it.
func (c *Client) Unlock(ctx context.Context, passphrase []byte) (LockState, error) {
	var st LockState
	err := c.do(ctx, "POST", "unlock", UnlockRequest{Passphrase: passphrase}, &st)
	return st, err
}

// Lock locks the daemon: every session ends and the keys are dropped.
func (c *Client) Lock(ctx context.Context) (LockState, error) {
	var st LockState
	err := c.do(ctx, "POST", "lock", nil, &st)
	return st, err
}

// ChangePassphrase has the daemon re-wrap the master key under newPass;
// ErrWrongPassphrase when oldPass does not open it. The caller wipes both.
func (c *Client) ChangePassphrase(ctx context.Context, oldPass, newPass []byte) error {
	return c.do(ctx, "POST", "passwd", PasswdRequest{Old: oldPass, New: newPass}, nil)
}
