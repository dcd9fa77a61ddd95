package launcher

import (
	"time"

	"github.com/safe-launcher/launcher/framing"
	"github.com/safe-launcher/launcher/wire"
)

// Locking: while the launcher is locked (the user's keys are not loaded),
// the listener stays up but every connection is answered with an
// unassociated -134 and closed, before its launcher string is looked at.
// Lock ends every session: each gets a last encrypted error frame (-134,
// with an empty id) where its writer can still send it, its watches a
// "closing" event first, and then it closes.

// lockedDesc is what a connection to a locked launcher is told.
const lockedDesc = "the launcher is locked: the user must unlock it (launcher unlock) before apps can connect"

// Locked reports whether the launcher is locked.
func (s *Server) Locked() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.locked
}

// Unlock lets apps connect again.
func (s *Server) Unlock() {
	s.mu.Lock()
	s.locked = false
	s.mu.Unlock()
	s.touch()
}

// Lock refuses new connections and ends every session, each with a last
// -134 error frame; it returns once they have ended (or after
// Config.ShutdownGrace, when the rest are closed at once). Requests in
// flight are cancelled. The caller then drops the keys.
func (s *Server) Lock() {
	s.mu.Lock()
	s.locked = true
	all := s.sessionList()
	s.mu.Unlock()
	for _, c := range all {
		c.endLocked()
	}
	deadline := time.NewTimer(s.cfg.ShutdownGrace)
	defer deadline.Stop()
	for _, c := range all {
		select {
		case <-c.done:
		case <-deadline.C:
			for _, c := range all {
				c.kill()
			}
			return
		}
	}
}

// endLocked ends c because the launcher locks: a session is cancelled,
// reads nothing more, and its writer sends the closing events due and a
// last -134 frame; a connection still in its handshake is closed.
func (c *session) endLocked() {
	c.srv.mu.Lock()
	authenticated := c.phase == phaseSession
	c.srv.mu.Unlock()
	if !authenticated {
		c.kill()
		return
	}
	c.killed.Store(true) // gone for Sessions and Stats at once
	c.lastWord.Store(&wire.Error{Code: wire.CodeLocked, Description: lockedDesc})
	if c.hasWatches() {
		c.tellWatches(wire.EventClosing, func(*watch) bool { return true })
	}
	c.cancel()
	c.stopReading()
}

// refuseLocked answers a connection to a locked launcher.
func (c *session) refuseLocked() {
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
	_ = framing.WriteFrame(c.nc, wire.AppendError(nil, "", wire.CodeLocked, lockedDesc))
}

// touch records activity (a request read, an unlock), for LastActivity.
func (s *Server) touch() { s.activity.Store(s.cfg.Now().UnixNano()) }

// LastActivity is when an app last sent a request (or the launcher was
// unlocked): an idle auto-lock compares it with the clock.
func (s *Server) LastActivity() time.Time { return time.Unix(0, s.activity.Load()) }
