// Package deps holds no code: its test enforces the import rules of
// docs/architecture.md for every package of the module, so that the
// dependencies keep pointing one way (cmd wires the session engine to the
// modules; the engine knows no store; the SDK shares only the protocol's
// leaf packages with the daemon).
package deps
