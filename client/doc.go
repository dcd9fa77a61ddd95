// Package client is the Go SDK for apps of the launcher: it owns an app's
// session with the launcher (the connection, the handshake, the session
// keys, matching answers to requests) and a method per endpoint.
//
// # Connect
//
// The launcher starts an app with its connection value in the --launcher
// argument ("tcp:<host>:<port>:<launcher_string>"; or in the SAFE_LAUNCHER
// environment variable). LauncherValue finds it and Dial connects and
// authenticates. A launcher string is good for one connection: dial once
// and share the Client.
//
//	value, err := client.LauncherValue(os.Args[1:])
//	if err != nil {
//		log.Fatal(err) // not started by the launcher
//	}
//	c, err := client.Dial(ctx, value)
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer c.Close()
//
// A Client is safe for concurrent use: requests from many goroutines share
// its one connection, and each caller gets its own answer. Every method
// takes a context; when it ends before the answer, the method returns
// ctx.Err() and the answer is dropped when it comes.
//
// # Directories and files
//
// Paths name entries below the app's private root directory, or below the
// user's shared SAFEDrive when IsPathShared (or shared) is true, which only
// apps the user granted that access may use. Parents are never created
// implicitly.
//
//	err = c.CreateDir(ctx, client.CreateDirRequest{DirPath: "notes", UserMetadata: client.Bytes{}})
//	err = c.WriteFile(ctx, "notes/today.txt", false, []byte("hello"))
//	content, err := c.ReadFile(ctx, "notes/today.txt", false)
//	dir, err := c.GetDir(ctx, client.GetDirRequest{DirPath: "notes"})
//	for _, f := range dir.Files {
//		fmt.Println(f.Name, f.Size)
//	}
//
// WriteFile creates or replaces a file and ReadFile returns a whole file,
// whatever its size. The endpoint methods (CreateFile, GetFile, ModifyFile,
// DeleteFile, GetDir, ModifyDir, DeleteDir, StatFile) do one request each;
// GetFile with Length 0 reads to the end of the file.
//
// # Streams
//
// NewFileWriter and NewFileReader move a file in chunks, a few in flight at
// once, as an io.WriteCloser and an io.ReadCloser: memory stays bounded
// whatever the file's size, and a file larger than one frame (300 MiB by
// default) can be moved.
//
//	w := c.NewFileWriter(ctx, "video.mp4", client.StreamOptions{Create: true})
//	if _, err := io.Copy(w, f); err != nil { ... }
//	if err := w.Close(); err != nil { ... } // Close reports the outcome
//
// # DNS
//
// RegisterDNS publishes a directory of the app under a long name and a
// service; the launcher's web gateway then serves it at
// http://<service>.<long name>.localhost:<port>/. ListLongNames,
// ListServices, GetHomeDir and GetServiceFile read any app's names;
// AddService, DeleteService and DeleteDNS change only the app's own.
//
// # Errors
//
// When the launcher answers with an error, a method returns an *Error
// (wire.Error) carrying a stable negative code and a description for
// people. Test it with errors.Is against the wire.Err* sentinels; never
// match the description, which may change:
//
//	_, err = c.ReadFile(ctx, "missing.txt", false)
//	switch {
//	case errors.Is(err, wire.ErrPathNotFound):
//		// create it
//	case err != nil:
//		return err
//	}
//
// Errors of the SDK itself start with "client: ". Once the session has
// ended (Close, the launcher stopping, the app being removed, a broken
// connection), every call returns an error wrapping ErrClosed and Done is
// closed; a session does not reconnect, since its launcher string is used
// up.
//
// # The session
//
// The SDK asks for the counter nonce mode by default (a fresh nonce for
// every message); WithFixedNonce selects the original protocol's fixed
// nonce, which a launcher may refuse. A Client runs one goroutine, its
// receive loop, from Dial until the session ends; Close waits for it.
//
// The package shares wire types with the daemon through package wire (the
// request and answer types are aliased here) and never imports server
// packages. docs/sdk.md is a guide from go get to a working app.
package client
