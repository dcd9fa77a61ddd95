package client

import "github.com/safe-launcher/launcher/wire"

// The request and answer types of the endpoints, shared with the launcher
// through package wire. They are aliases: a client.GetDirRequest is a
// wire.GetDirRequest, and code written against either works unchanged.
// Byte fields (Bytes) travel as base64; an empty value is sent as "".
type (
	// CreateDirRequest is the data of CreateDir: the new directory's path,
	// whether it is private or versioned, and its user metadata.
	CreateDirRequest = wire.CreateDirRequest
	// GetDirRequest is the data of GetDir. TimeoutMs <= 0 means no timeout.
	GetDirRequest = wire.GetDirRequest
	// ModifyDirRequest is the data of ModifyDir: the directory and its NewValues.
	ModifyDirRequest = wire.ModifyDirRequest
	// DirNewValues are the changes of ModifyDir; a nil field is left unchanged.
	DirNewValues = wire.DirNewValues

	// CreateFileRequest is the data of CreateFile: the new file's path and
	// its user metadata (the file starts empty).
	CreateFileRequest = wire.CreateFileRequest
	// GetFileRequest is the data of GetFile: a path, a range of the
	// content (Offset, Length; see GetFile for Length 0) and whether to
	// include the metadata.
	GetFileRequest = wire.GetFileRequest
	// ModifyFileRequest is the data of ModifyFile: the file and its NewValues.
	ModifyFileRequest = wire.ModifyFileRequest
	// FileNewValues are the changes of ModifyFile: a new name, new content,
	// new user metadata; a nil field is left unchanged.
	FileNewValues = wire.FileNewValues
	// FileContent is new content for ModifyFile: without Offset it replaces
	// the whole content, with one it is written at that offset.
	FileContent = wire.FileContent

	// ServiceRequest is the data of RegisterDNS and AddService: a long
	// name, a service name and the service's home directory in this app's
	// private root or (IsPathShared) in SAFEDrive.
	ServiceRequest = wire.ServiceRequest
	// ServiceFileRequest is the data of GetServiceFile: a file below a
	// service's home directory, and a range as in GetFileRequest.
	ServiceFileRequest = wire.ServiceFileRequest

	// GetDirResponse is the answer of GetDir and GetHomeDir: the directory's
	// description, its subdirectories and its files (the lists are never nil).
	GetDirResponse = wire.GetDirResponse
	// GetFileResponse is the answer of GetFile and GetServiceFile: the
	// content read, and the metadata if asked for.
	GetFileResponse = wire.GetFileResponse
	// DirInfo describes a directory: name, times, flags, user metadata.
	DirInfo = wire.DirInfo
	// FileInfo describes a file: name, size, times, user metadata.
	FileInfo = wire.FileInfo
	// Times are a creation and a modification time (Created, Modified).
	Times = wire.Times
	// Bytes is binary data that travels as standard padded base64.
	Bytes = wire.Bytes

	// Error is the error a call returns when the launcher answers with an
	// error: a stable negative Code and a Description for people. Test it
	// with errors.Is against the wire.Err* sentinels (errors.Is(err,
	// wire.ErrPathNotFound)), or read the code with errors.As; docs/errors.md
	// lists the codes.
	Error = wire.Error
	// Code is a launcher error code; see Error.
	Code = wire.Code
)
