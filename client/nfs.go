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

// CreateDir creates a directory (nfs/create-dir).
func (c *Client) CreateDir(ctx context.Context, r wire.CreateDirRequest) error {
	return c.Call(ctx, ep10("nfs", "create-dir"), r, nil)
}

// DeleteDir deletes a directory and everything in it (nfs/delete-dir).
func (c *Client) DeleteDir(ctx context.Context, shared bool, dirPath string) error {
	return c.Call(ctx, ep10("nfs", "delete-dir"), wire.DirRequest{IsPathShared: shared, DirPath: dirPath}, nil)
}

// GetDir lists a directory (nfs/get-dir).
func (c *Client) GetDir(ctx context.Context, r wire.GetDirRequest) (*wire.GetDirResponse, error) {
	var out wire.GetDirResponse
	if err := c.Call(ctx, ep10("nfs", "get-dir"), r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ModifyDir renames a directory or replaces its metadata (nfs/modify-dir).
func (c *Client) ModifyDir(ctx context.Context, r wire.ModifyDirRequest) error {
	return c.Call(ctx, ep10("nfs", "modify-dir"), r, nil)
}

// CreateFile creates an empty file (nfs/create-file).
func (c *Client) CreateFile(ctx context.Context, r wire.CreateFileRequest) error {
	return c.Call(ctx, ep10("nfs", "create-file"), r, nil)
}

// DeleteFile deletes a file (nfs/delete-file).
func (c *Client) DeleteFile(ctx context.Context, shared bool, filePath string) error {
	return c.Call(ctx, ep10("nfs", "delete-file"), wire.FileRequest{IsPathShared: shared, FilePath: filePath}, nil)
}

// GetFile reads a file's content, and its metadata when asked (nfs/get-file).
func (c *Client) GetFile(ctx context.Context, r wire.GetFileRequest) (*wire.GetFileResponse, error) {
	var out wire.GetFileResponse
	if err := c.Call(ctx, ep10("nfs", "get-file"), r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ModifyFile renames a file, replaces its metadata, or writes content (nfs/modify-file).
func (c *Client) ModifyFile(ctx context.Context, r wire.ModifyFileRequest) error {
	return c.Call(ctx, ep10("nfs", "modify-file"), r, nil)
}
