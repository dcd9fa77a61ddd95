// Package launcher is the daemon core: it owns the TCP listener, each
// connection's handshake and encrypted session, the single-use launcher strings,
// the routing of requests to the modules' handlers, the limits that keep hostile
// peers from exhausting the daemon, and the one place where errors become wire
// error codes.
//
// A Server is built with New from a Config, an Apps directory (who may connect
// and what each app may do) and the modules (nfs, dns) that register routes.
// Serve runs it on a listener until its context ends; Shutdown stops it
// gracefully. Launcher strings are minted with MintLauncherString.
package launcher
