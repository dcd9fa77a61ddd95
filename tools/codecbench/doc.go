// Package codecbench measures decoding a modify-file request (and encoding a
// get-file answer) with encoding/json and third-party JSON codecs against the
// launcher's own wire package. It is a separate module so that the codecs it
// compares never enter the launcher's go.mod. See README.md and
// ../../docs/codec.md.
package codecbench
