package wire

import (
	"time"
)

// Decoder is implemented by request data types: it fills the value from an
// Object, which records the first error.
type Decoder interface {
	DecodeFrom(o *Object)
}

// Decode decodes a request's data strictly into v; errors are *Error naming the field.
func Decode(raw []byte, v Decoder) error {
	o := NewObject("data", raw)
	if o.Err() != nil {
		return o.Err()
	}
	v.DecodeFrom(o)
	return o.Err()
}

// CreateDirRequest is the data of nfs/create-dir.
type CreateDirRequest struct {
	IsPathShared bool   `json:"is_path_shared"`
	DirPath      string `json:"dir_path"`
	IsPrivate    bool   `json:"is_private"`
	IsVersioned  bool   `json:"is_versioned"`
	UserMetadata Bytes  `json:"user_metadata"`
}

// DecodeFrom implements Decoder.
func (r *CreateDirRequest) DecodeFrom(o *Object) {
	r.IsPathShared = o.Bool("is_path_shared")
	r.DirPath = o.String("dir_path")
	r.IsPrivate = o.Bool("is_private")
	r.IsVersioned = o.Bool("is_versioned")
	r.UserMetadata = o.Bytes("user_metadata")
}

// DirRequest is the data of nfs/delete-dir.
type DirRequest struct {
	IsPathShared bool   `json:"is_path_shared"`
	DirPath      string `json:"dir_path"`
}

// DecodeFrom implements Decoder.
func (r *DirRequest) DecodeFrom(o *Object) {
	r.IsPathShared = o.Bool("is_path_shared")
	r.DirPath = o.String("dir_path")
}

// GetDirRequest is the data of nfs/get-dir. TimeoutMs <= 0 means no timeout.
type GetDirRequest struct {
	TimeoutMs    int64  `json:"timeout_ms"`
	IsPathShared bool   `json:"is_path_shared"`
	DirPath      string `json:"dir_path"`
}

// DecodeFrom implements Decoder.
func (r *GetDirRequest) DecodeFrom(o *Object) {
	r.TimeoutMs = o.Int64("timeout_ms")
	r.IsPathShared = o.Bool("is_path_shared")
	r.DirPath = o.String("dir_path")
}

// DirNewValues are the optional changes of nfs/modify-dir; nil is unchanged.
type DirNewValues struct {
	Name         *string `json:"name,omitempty"`
	UserMetadata *Bytes  `json:"user_metadata,omitempty"`
}

// ModifyDirRequest is the data of nfs/modify-dir.
type ModifyDirRequest struct {
	IsPathShared bool         `json:"is_path_shared"`
	DirPath      string       `json:"dir_path"`
	NewValues    DirNewValues `json:"new_values"`
}

// DecodeFrom implements Decoder.
func (r *ModifyDirRequest) DecodeFrom(o *Object) {
	r.IsPathShared = o.Bool("is_path_shared")
	r.DirPath = o.String("dir_path")
	nv := o.Object("new_values")
	r.NewValues.Name = nv.OptString("name")
	r.NewValues.UserMetadata = nv.OptBytes("user_metadata")
	o.Check(nv)
}

// CreateFileRequest is the data of nfs/create-file.
type CreateFileRequest struct {
	IsPathShared bool   `json:"is_path_shared"`
	FilePath     string `json:"file_path"`
	UserMetadata Bytes  `json:"user_metadata"`
}

// DecodeFrom implements Decoder.
func (r *CreateFileRequest) DecodeFrom(o *Object) {
	r.IsPathShared = o.Bool("is_path_shared")
	r.FilePath = o.String("file_path")
	r.UserMetadata = o.Bytes("user_metadata")
}

// FileRequest is the data of nfs/delete-file.
type FileRequest struct {
	IsPathShared bool   `json:"is_path_shared"`
	FilePath     string `json:"file_path"`
}

// DecodeFrom implements Decoder.
func (r *FileRequest) DecodeFrom(o *Object) {
	r.IsPathShared = o.Bool("is_path_shared")
	r.FilePath = o.String("file_path")
}

// GetFileRequest is the data of nfs/get-file. Length < 0 reads to the end.
type GetFileRequest struct {
	IsPathShared    bool   `json:"is_path_shared"`
	FilePath        string `json:"file_path"`
	Offset          int64  `json:"offset"`
	Length          int64  `json:"length"`
	IncludeMetadata bool   `json:"include_metadata"`
}

// DecodeFrom implements Decoder.
func (r *GetFileRequest) DecodeFrom(o *Object) {
	r.IsPathShared = o.Bool("is_path_shared")
	r.FilePath = o.String("file_path")
	r.Offset = o.Int64("offset")
	r.Length = o.Int64("length")
	r.IncludeMetadata = o.Bool("include_metadata")
}

// FileContent is new content for nfs/modify-file: with Offset it is written at
// that offset, without it it replaces the whole content.
type FileContent struct {
	Offset *int64 `json:"offset,omitempty"`
	Bytes  Bytes  `json:"bytes"`
}

// FileNewValues are the optional changes of nfs/modify-file; nil is unchanged.
type FileNewValues struct {
	Name         *string      `json:"name,omitempty"`
	Content      *FileContent `json:"content,omitempty"`
	UserMetadata *Bytes       `json:"user_metadata,omitempty"`
}

// ModifyFileRequest is the data of nfs/modify-file.
type ModifyFileRequest struct {
	IsPathShared bool          `json:"is_path_shared"`
	FilePath     string        `json:"file_path"`
	NewValues    FileNewValues `json:"new_values"`
}

// DecodeFrom implements Decoder.
func (r *ModifyFileRequest) DecodeFrom(o *Object) {
	r.IsPathShared = o.Bool("is_path_shared")
	r.FilePath = o.String("file_path")
	nv := o.Object("new_values")
	r.NewValues.Name = nv.OptString("name")
	r.NewValues.UserMetadata = nv.OptBytes("user_metadata")
	if c := nv.OptObject("content"); c != nil {
		fc := &FileContent{Offset: c.OptInt64("offset"), Bytes: c.Bytes("bytes")}
		nv.Check(c)
		r.NewValues.Content = fc
	}
	o.Check(nv)
}

// Times are a creation and modification time as the wire carries them.
type Times struct {
	CreationTimeSec      int64 `json:"creation_time_sec"`
	CreationTimeNsec     int64 `json:"creation_time_nsec"`
	ModificationTimeSec  int64 `json:"modification_time_sec"`
	ModificationTimeNsec int64 `json:"modification_time_nsec"`
}

// MakeTimes converts two times to their wire form.
func MakeTimes(created, modified time.Time) Times {
	return Times{
		CreationTimeSec: created.Unix(), CreationTimeNsec: int64(created.Nanosecond()),
		ModificationTimeSec: modified.Unix(), ModificationTimeNsec: int64(modified.Nanosecond()),
	}
}

// Created returns the creation time.
func (t Times) Created() time.Time { return time.Unix(t.CreationTimeSec, t.CreationTimeNsec) }

// Modified returns the modification time.
func (t Times) Modified() time.Time { return time.Unix(t.ModificationTimeSec, t.ModificationTimeNsec) }

// DirInfo describes a directory in answers.
type DirInfo struct {
	Name string `json:"name"`
	Times
	IsPrivate    bool  `json:"is_private"`
	IsVersioned  bool  `json:"is_versioned"`
	UserMetadata Bytes `json:"user_metadata"`
}

// FileInfo describes a file in answers.
type FileInfo struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
	Times
	UserMetadata Bytes `json:"user_metadata"`
}

// GetDirResponse is the answer of nfs/get-dir. The lists are never null.
type GetDirResponse struct {
	Info           DirInfo    `json:"info"`
	SubDirectories []DirInfo  `json:"sub_directories"`
	Files          []FileInfo `json:"files"`
}

// GetFileResponse is the answer of nfs/get-file; Metadata is absent unless asked for.
type GetFileResponse struct {
	Content  Bytes     `json:"content"`
	Metadata *FileInfo `json:"metadata,omitempty"`
}
