// Package launcher is the session engine: it owns the TCP listener, each
// connection's peer check and handshake, the encrypted session (one reader
// that runs requests in the order received and one writer that owns
// everything sent after the handshake: answers, in request order, and push
// events), the single-use launcher strings, the routing of requests to the
// modules' handlers, the launcher module (version, ping, bye, watch), the
// limits that keep hostile peers from exhausting the daemon, locking, and
// the one place where errors become wire error codes. It knows no store:
// modules return typed answers (wire.Answer), map their own errors to
// *wire.Error, and say when an answer must wait for durability
// (route.Result.Durable).
//
// A Server is built with New from a Config, an Apps directory (who may connect
// and what each app may do) and the modules (nfs, dns) that register routes.
// Serve runs it on a listener until its context ends; Shutdown stops it
// gracefully; Lock and Unlock follow the user's account. Launcher strings
// are minted with MintLauncherString.
//
// What the caller must do: give Config.PeerCheck on systems that can tell a
// connection's user (otherwise another local user who reads an app's argv
// can use its launcher string); call EndApp when an app is removed and
// AccessChanged when its SAFEDrive grant changes.
package launcher
