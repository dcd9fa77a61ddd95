package main

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func tarOf(t *testing.T, entries ...*tar.Header) *bytes.Buffer {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range entries {
		body := []byte(nil)
		if h.Typeflag == tar.TypeReg {
			body = []byte("content of " + h.Name)
			h.Size = int64(len(body))
		}
		require.NoError(t, tw.WriteHeader(h))
		_, err := tw.Write(body)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return &b
}

func TestExtractTar(t *testing.T) {
	dir := t.TempDir()
	b := tarOf(t,
		&tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header", PAXRecords: map[string]string{"comment": "abc"}},
		&tar.Header{Typeflag: tar.TypeDir, Name: "cmd/", Mode: 0o755},
		&tar.Header{Typeflag: tar.TypeReg, Name: "cmd/main.go", Mode: 0o644},
		&tar.Header{Typeflag: tar.TypeReg, Name: "deep/er/file", Mode: 0o755},
		&tar.Header{Typeflag: tar.TypeSymlink, Name: "cmd/link", Linkname: "main.go"},
	)
	require.NoError(t, extractTar(b, dir))
	got, err := os.ReadFile(filepath.Join(dir, "cmd", "main.go"))
	require.NoError(t, err)
	assert.Equal(t, "content of cmd/main.go", string(got))
	got, err = os.ReadFile(filepath.Join(dir, "cmd", "link"))
	require.NoError(t, err)
	assert.Equal(t, "content of cmd/main.go", string(got))
	fi, err := os.Stat(filepath.Join(dir, "deep", "er", "file"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), fi.Mode().Perm())
}

func TestExtractTarStaysInside(t *testing.T) {
	for _, h := range []*tar.Header{
		{Typeflag: tar.TypeReg, Name: "../escape", Mode: 0o644},
		{Typeflag: tar.TypeReg, Name: "/abs", Mode: 0o644},
		{Typeflag: tar.TypeSymlink, Name: "a/up", Linkname: "../../x"},
		{Typeflag: tar.TypeSymlink, Name: "abs", Linkname: "/etc/passwd"},
	} {
		parent := t.TempDir()
		dir := filepath.Join(parent, "in")
		require.NoError(t, os.Mkdir(dir, 0o755))
		err := extractTar(tarOf(t, h), dir)
		assert.ErrorIs(t, err, errNotLocal, h.Name)
		left, _ := os.ReadDir(parent)
		assert.Len(t, left, 1, "nothing written beside the directory for %s", h.Name)
	}
}

func TestBuildBaselineRefusesUnknownRevisions(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git on PATH")
	}
	if _, err := git(context.Background(), "", "rev-parse", "--show-toplevel"); err != nil {
		t.Skip("not run inside a git checkout")
	}
	for _, rev := range []string{"", "-x", "no-such-revision-0123"} {
		_, cleanup, err := buildBaseline(context.Background(), rev)
		assert.Error(t, err, rev)
		assert.Nil(t, cleanup, rev)
	}
	b := describeBuild(context.Background())
	assert.Len(t, b.Commit, 40)
	assert.NotEmpty(t, b.Rev)
}
