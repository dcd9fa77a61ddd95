package client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/wire"
)

// These examples run against a real launcher (see TestMain). In them,
// appArgs() stands for os.Args[1:], the arguments the launcher started the
// app with.

// An app connects, creates a directory and a file, lists the directory and
// reads the file back.
func Example() {
	ctx := context.Background()
	value, err := client.LauncherValue(appArgs()) // in an app: os.Args[1:]
	if err != nil {
		fmt.Println(err) // not started by the launcher
		return
	}
	c, err := client.Dial(ctx, value)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	if err := c.CreateDir(ctx, client.CreateDirRequest{DirPath: "notes", UserMetadata: client.Bytes{}}); err != nil {
		fmt.Println(err)
		return
	}
	if err := c.WriteFile(ctx, "notes/today.txt", false, []byte("hello")); err != nil {
		fmt.Println(err)
		return
	}
	dir, err := c.GetDir(ctx, client.GetDirRequest{DirPath: "notes"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range dir.Files {
		fmt.Println(f.Name, f.Size)
	}
	content, err := c.ReadFile(ctx, "notes/today.txt", false)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(content))
	// Output:
	// today.txt 5
	// hello
}

// Connect: the launcher value comes from the --launcher argument (or the
// SAFE_LAUNCHER variable); a session lives until Close.
func ExampleDial() {
	ctx := context.Background()
	value, err := client.LauncherValue(appArgs()) // in an app: os.Args[1:]
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := client.Dial(ctx, value)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("nonce mode:", c.Mode())

	c.Close()
	<-c.Done()
	_, err = c.GetDir(ctx, client.GetDirRequest{})
	fmt.Println("closed:", errors.Is(err, client.ErrClosed))

	// A launcher string is good for one connection.
	_, err = client.Dial(ctx, value)
	fmt.Println("used string refused:", errors.Is(err, wire.ErrLauncherString))
	// Output:
	// nonce mode: counter
	// closed: true
	// used string refused: true
}

// Directories: create, list, rename, delete.
func ExampleClient_CreateDir() {
	ctx := context.Background()
	c, err := dialExample(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	for _, p := range []string{"photos", "photos/2016", "photos/2017"} {
		err := c.CreateDir(ctx, client.CreateDirRequest{DirPath: p, UserMetadata: client.Bytes("album")})
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	name := "pictures"
	err = c.ModifyDir(ctx, client.ModifyDirRequest{DirPath: "photos", NewValues: client.DirNewValues{Name: &name}})
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, err := c.GetDir(ctx, client.GetDirRequest{DirPath: "pictures"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s (%s):", dir.Info.Name, dir.Info.UserMetadata)
	for _, d := range dir.SubDirectories {
		fmt.Print(" ", d.Name)
	}
	fmt.Println()
	if err := c.DeleteDir(ctx, false, "pictures"); err != nil {
		fmt.Println(err)
		return
	}
	root, err := c.GetDir(ctx, client.GetDirRequest{DirPath: "/"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("left in the root:", len(root.SubDirectories), len(root.Files))
	// Output:
	// pictures (album): 2016 2017
	// left in the root: 0 0
}

// Files: write whole, read whole or a range, look at the metadata, rename,
// delete.
func ExampleClient_WriteFile() {
	ctx := context.Background()
	c, err := dialExample(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	// WriteFile creates the file, or replaces its content.
	if err := c.WriteFile(ctx, "hello.txt", false, []byte("hello, world")); err != nil {
		fmt.Println(err)
		return
	}
	whole, err := c.ReadFile(ctx, "hello.txt", false)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(whole))

	// GetFile reads from Offset to the end, or Length bytes.
	part, err := c.GetFile(ctx, client.GetFileRequest{FilePath: "hello.txt", Offset: 7, Length: 3})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(part.Content))

	name := "greeting.txt"
	err = c.ModifyFile(ctx, client.ModifyFileRequest{FilePath: "hello.txt", NewValues: client.FileNewValues{Name: &name}})
	if err != nil {
		fmt.Println(err)
		return
	}
	info, err := c.StatFile(ctx, false, "greeting.txt")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(info.Name, info.Size)
	if err := c.DeleteFile(ctx, false, "greeting.txt"); err != nil {
		fmt.Println(err)
		return
	}
	// Output:
	// hello, world
	// wor
	// greeting.txt 12
}

// Streams: move a file in chunks, with bounded memory, from an io.Reader
// and into an io.Writer.
func ExampleClient_NewFileWriter() {
	ctx := context.Background()
	c, err := dialExample(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	opt := client.StreamOptions{ChunkSize: 256 << 10, Create: true}
	w := c.NewFileWriter(ctx, "data.bin", opt)
	if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
		fmt.Println(err)
		return
	}
	if err := w.Close(); err != nil { // Close reports the outcome
		fmt.Println(err)
		return
	}

	r := c.NewFileReader(ctx, "data.bin", client.StreamOptions{ChunkSize: 256 << 10})
	defer r.Close()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("read", n, "bytes; same:", bytes.Equal(h.Sum(nil), sha256Sum(data)))
	// Output:
	// read 1048576 bytes; same: true
}

// DNS: publish a directory as www.example, then read it as any app can.
func ExampleClient_RegisterDNS() {
	ctx := context.Background()
	c, err := dialExample(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	if err := c.CreateDir(ctx, client.CreateDirRequest{DirPath: "site", UserMetadata: client.Bytes{}}); err != nil {
		fmt.Println(err)
		return
	}
	if err := c.WriteFile(ctx, "site/index.html", false, []byte("<h1>Hi</h1>")); err != nil {
		fmt.Println(err)
		return
	}
	err = c.RegisterDNS(ctx, client.ServiceRequest{LongName: "example", ServiceName: "www", ServiceHomeDirPath: "site"})
	if err != nil {
		fmt.Println(err)
		return
	}
	services, err := c.ListServices(ctx, "example")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(services)
	page, err := c.GetServiceFile(ctx, client.ServiceFileRequest{LongName: "example", ServiceName: "www", FilePath: "index.html"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(page.Content))
	if err := c.DeleteDNS(ctx, "example"); err != nil {
		fmt.Println(err)
		return
	}
	// Output:
	// [www]
	// <h1>Hi</h1>
}

// Errors: the launcher's errors carry a stable code; test them with
// errors.Is against the wire.Err* sentinels, never by their text.
func Example_errors() {
	ctx := context.Background()
	c, err := dialExample(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	_, err = c.ReadFile(ctx, "missing.txt", false)
	switch {
	case errors.Is(err, wire.ErrPathNotFound):
		fmt.Println("no such file")
	case err != nil:
		fmt.Println(err)
		return
	}
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println("code", e.Code)
	}

	err = c.CreateDir(ctx, client.CreateDirRequest{DirPath: "a", UserMetadata: client.Bytes{}})
	fmt.Println(err)
	err = c.CreateDir(ctx, client.CreateDirRequest{DirPath: "a", UserMetadata: client.Bytes{}})
	fmt.Println("taken:", errors.Is(err, wire.ErrAlreadyExists))
	err = c.CreateDir(ctx, client.CreateDirRequest{DirPath: "b/c", UserMetadata: client.Bytes{}})
	fmt.Println("no parent:", errors.Is(err, wire.ErrPathNotFound))
	err = c.WriteFile(ctx, "in-safedrive.txt", true, []byte("x"))
	fmt.Println("SAFEDrive not granted:", errors.Is(err, wire.ErrSharedDenied))
	// Output:
	// no such file
	// code -200
	// <nil>
	// taken: true
	// no parent: true
	// SAFEDrive not granted: true
}

// dialExample connects a new app, as the examples above show in full.
func dialExample(ctx context.Context) (*client.Client, error) {
	value, err := client.LauncherValue(appArgs())
	if err != nil {
		return nil, err
	}
	return client.Dial(ctx, value)
}

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}
