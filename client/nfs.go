package client

import (
	"context"

	"github.com/safe-launcher/launcher/wire"
)

// The endpoints' versions: the RFC's requests are sent as v1.0, this project's
// additions as v1.1.
func ep10(module, request string) string {
	return wire.Endpoint{Version: wire.V1_0, Module: module, Request: request}.String()
}

func ep11(module, request string) string {
	return wire.Endpoint{Version: wire.V1_1, Module: module, Request: request}.String()
}

// Paths. Every nfs request names a path below one of two roots: the app's
// private root directory (IsPathShared false, the default) or the user's
// shared SAFEDrive (IsPathShared true, only for apps the user granted it).
// Segments are separated by "/"; empty segments are dropped; every directory
// before the last segment must exist already.

// CreateDir creates a directory (nfs/create-dir). Its parent must exist.
func (c *Client) CreateDir(ctx context.Context, r CreateDirRequest) error {
	return c.Call(ctx, ep10("nfs", "create-dir"), r, nil)
}

// DeleteDir deletes a directory and everything in it (nfs/delete-dir).
func (c *Client) DeleteDir(ctx context.Context, shared bool, dirPath string) error {
	return c.Call(ctx, ep10("nfs", "delete-dir"), wire.DirRequest{IsPathShared: shared, DirPath: dirPath}, nil)
}

// GetDir lists a directory (nfs/get-dir): its own description, its
// subdirectories and its files.
func (c *Client) GetDir(ctx context.Context, r GetDirRequest) (*GetDirResponse, error) {
	var out wire.GetDirResponse
	if err := c.Call(ctx, ep10("nfs", "get-dir"), r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ModifyDir renames a directory or replaces its metadata (nfs/modify-dir).
func (c *Client) ModifyDir(ctx context.Context, r ModifyDirRequest) error {
	return c.Call(ctx, ep10("nfs", "modify-dir"), r, nil)
}

// CreateFile creates an empty file (nfs/create-file); it fails with
// wire.ErrAlreadyExists if the name is taken. WriteFile creates or replaces
// a file with its content in one call.
func (c *Client) CreateFile(ctx context.Context, r CreateFileRequest) error {
	return c.Call(ctx, ep10("nfs", "create-file"), r, nil)
}

// DeleteFile deletes a file (nfs/delete-file).
func (c *Client) DeleteFile(ctx context.Context, shared bool, filePath string) error {
	return c.Call(ctx, ep10("nfs", "delete-file"), wire.FileRequest{IsPathShared: shared, FilePath: filePath}, nil)
}

// GetFile reads r.Length bytes of a file's content from r.Offset, and its
// metadata when r.IncludeMetadata is set (nfs/get-file).
//
// A Length of 0 or less reads to the end of the file, so that
// GetFile(ctx, GetFileRequest{FilePath: p}) returns the whole file. (On the
// wire a length of 0 asks for no content at all; the SDK sends -1 instead.
// To learn a file's size and times without its content, use StatFile.)
// The answer must fit in one frame, and the launcher refuses to read a very
// large file in one request (wire.ErrLimit): ReadFile and NewFileReader read
// any file in ranges.
func (c *Client) GetFile(ctx context.Context, r GetFileRequest) (*GetFileResponse, error) {
	if r.Length == 0 {
		r.Length = -1
	}
	var out wire.GetFileResponse
	if err := c.Call(ctx, ep10("nfs", "get-file"), r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// StatFile returns a file's metadata (name, size, times, user metadata)
// without its content: a get-file of no bytes with the metadata.
func (c *Client) StatFile(ctx context.Context, shared bool, filePath string) (*FileInfo, error) {
	var out wire.GetFileResponse
	r := wire.GetFileRequest{IsPathShared: shared, FilePath: filePath, Length: 0, IncludeMetadata: true}
	if err := c.Call(ctx, ep10("nfs", "get-file"), r, &out); err != nil {
		return nil, err
	}
	if out.Metadata == nil {
		return nil, errNoMetadata
	}
	return out.Metadata, nil
}

// ModifyFile renames a file, replaces its metadata, or writes content
// (nfs/modify-file). Content without an offset replaces the whole file;
// with one, it is written at that offset (at most the file's size).
func (c *Client) ModifyFile(ctx context.Context, r ModifyFileRequest) error {
	return c.Call(ctx, ep10("nfs", "modify-file"), r, nil)
}
