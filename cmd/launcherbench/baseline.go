package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// -baseline: an earlier revision of this repository, extracted with git
// archive and its cmd/launcherbench built, whose "daemon" child is measured
// beside this build's (child.go's contract).

// build names a build of the daemon that a run measured.
type build struct {
	Rev     string // as given to -baseline, or as git describes the working tree
	Commit  string // the full commit hash ("" when not known)
	Subject string // the commit's subject line
	Exe     string // its launcherbench binary ("" for this build: os.Executable)
}

// errNotLocal is returned for an archive entry that would land outside the
// directory it is extracted into.
var errNotLocal = errors.New("archive entry outside the extraction directory")

// git runs git with args and returns its trimmed standard output.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// describeBuild names the working tree this binary was built from, as far
// as git in the working directory tells.
func describeBuild(ctx context.Context) build {
	b := build{Rev: "this build (not a git checkout)"}
	if d, err := git(ctx, "", "describe", "--always", "--dirty", "--abbrev=7"); err == nil {
		b.Rev = d
	}
	if out, err := git(ctx, "", "log", "-1", "--format=%H%n%s"); err == nil {
		b.Commit, b.Subject, _ = strings.Cut(out, "\n")
	}
	return b
}

// buildBaseline extracts revision rev of the repository that holds the
// working directory into a temporary directory and builds its
// cmd/launcherbench there. cleanup removes the directory and the binary.
func buildBaseline(ctx context.Context, rev string) (b build, cleanup func(), err error) {
	if rev == "" || strings.HasPrefix(rev, "-") {
		return b, nil, fmt.Errorf("%q is not a revision", rev)
	}
	top, err := git(ctx, "", "rev-parse", "--show-toplevel")
	if err != nil {
		return b, nil, err
	}
	commit, err := git(ctx, top, "rev-parse", "--verify", "--quiet", rev+"^{commit}")
	if err != nil {
		return b, nil, fmt.Errorf("no commit %q in %s", rev, top)
	}
	subject, err := git(ctx, top, "log", "-1", "--format=%s", commit)
	if err != nil {
		return b, nil, err
	}
	// The module may sit below the repository's top directory.
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return b, nil, fmt.Errorf("go env GOMOD: %w", err)
	}
	rel, err := filepath.Rel(top, filepath.Dir(strings.TrimSpace(string(gomod))))
	if err != nil || !filepath.IsLocal(rel) && rel != "." {
		return b, nil, fmt.Errorf("the module (%s) is not inside the repository %s", strings.TrimSpace(string(gomod)), top)
	}

	tmp, err := os.MkdirTemp("", "launcherbench-baseline-")
	if err != nil {
		return b, nil, err
	}
	cleanup = func() { os.RemoveAll(tmp) }
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	src := filepath.Join(tmp, "src")
	if err := gitArchive(ctx, top, commit, src); err != nil {
		return b, nil, err
	}
	exe := filepath.Join(tmp, "launcherbench-"+commit[:min(12, len(commit))])
	cmd := exec.CommandContext(ctx, "go", "build", "-o", exe, "./cmd/launcherbench")
	cmd.Dir = filepath.Join(src, rel)
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return b, nil, fmt.Errorf("building its cmd/launcherbench: %w\n%s", err, out)
	}
	return build{Rev: rev, Commit: commit, Subject: subject, Exe: exe}, cleanup, nil
}

// gitArchive writes the tree of commit into dir (git archive | tar -x).
func gitArchive(ctx context.Context, top, commit, dir string) error {
	cmd := exec.CommandContext(ctx, "git", "archive", "--format=tar", commit)
	cmd.Dir = top
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	xerr := extractTar(out, dir)
	if xerr != nil {
		_, _ = io.Copy(io.Discard, out) // let git finish
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("git archive %s: %w: %s", commit, err, strings.TrimSpace(stderr.String()))
	}
	return xerr
}

// extractTar writes the regular files, directories and relative symbolic
// links of a tar stream into dir; any entry that would land outside dir is
// an error wrapping errNotLocal.
func extractTar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.FromSlash(h.Name)
		if h.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		if !filepath.IsLocal(name) {
			return fmt.Errorf("%w: %q", errNotLocal, h.Name)
		}
		p := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, h.FileInfo().Mode().Perm()|0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			target := filepath.FromSlash(h.Linkname)
			if filepath.IsAbs(target) || !filepath.IsLocal(filepath.Join(filepath.Dir(name), target)) {
				return fmt.Errorf("%w: link %q -> %q", errNotLocal, h.Name, h.Linkname)
			}
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			if err := os.Symlink(h.Linkname, p); err != nil {
				return err
			}
		}
	}
}
