package vfs

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/afero"
)

const crashEnv = "VFS_CRASH_CHILD_DIR"

// crashOp is one mutation, as the child announces it before running it.
type crashOp struct {
	Kind   string   `json:"k"`
	Path   []string `json:"p"`
	To     []string `json:"to,omitempty"` // move: new parent
	Name   string   `json:"name,omitempty"`
	Offset int64    `json:"off"` // write: -1 = replace
	Byte   byte     `json:"b"`
	N      int      `json:"n"`
	Meta   string   `json:"meta,omitempty"`
}

func (op crashOp) bytes() []byte { return bytes.Repeat([]byte{op.Byte}, op.N) }

// centry is what the parent expects at a path.
type centry struct {
	dir     bool
	content []byte
	meta    string
}

type cstate map[string]centry

func (st cstate) clone() cstate {
	c := make(cstate, len(st))
	for k, v := range st {
		v.content = bytes.Clone(v.content)
		c[k] = v
	}
	return c
}

func (st cstate) moveTree(from, to string) {
	for k, v := range st {
		if k == from || strings.HasPrefix(k, from+"/") {
			delete(st, k)
			st[to+k[len(from):]] = v
		}
	}
}

func (st cstate) apply(op crashOp) {
	k := strings.Join(op.Path, "/")
	switch op.Kind {
	case "mkdir":
		st[k] = centry{dir: true}
	case "create":
		st[k] = centry{content: []byte{}, meta: op.Meta}
	case "write":
		e := st[k]
		if op.Offset < 0 {
			e.content = op.bytes()
		} else {
			c := append([]byte{}, e.content[:op.Offset]...)
			c = append(c, op.bytes()...)
			if end := int(op.Offset) + op.N; end < len(e.content) {
				c = append(c, e.content[end:]...)
			}
			e.content = c
		}
		st[k] = e
	case "meta":
		e := st[k]
		e.meta = op.Meta
		st[k] = e
	case "delete":
		delete(st, k)
	case "rmdir":
		for q := range st {
			if q == k || strings.HasPrefix(q, k+"/") {
				delete(st, q)
			}
		}
	case "rename":
		st.moveTree(k, strings.Join(append(append([]string{}, op.Path[:len(op.Path)-1]...), op.Name), "/"))
	case "move":
		st.moveTree(k, strings.Join(append(append([]string{}, op.To...), op.Path[len(op.Path)-1]), "/"))
	}
}

func (st cstate) String() string {
	var lines []string
	for k, v := range st {
		if v.dir {
			lines = append(lines, k+"/")
		} else {
			lines = append(lines, fmt.Sprintf("%s size=%d sum=%x meta=%q", k, len(v.content), bytesSum(v.content), v.meta))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func bytesSum(b []byte) uint64 {
	var h uint64 = 14695981039346656037
	for _, c := range b {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return h
}

// readState reads the whole app root; it fails the test on any error, and
// checks that each file's size matches its content.
func readState(t testing.TB, s *Store) cstate {
	t.Helper()
	st := cstate{}
	var walk func(p Path)
	walk = func(p Path) {
		l, err := s.GetDir(bg, app, p)
		if err != nil {
			t.Fatalf("GetDir %s: %v", p, err)
		}
		for _, d := range l.Dirs {
			q := append(append(Path{}, p...), d.Name)
			st[strings.Join(q, "/")] = centry{dir: true}
			walk(q)
		}
		for _, f := range l.Files {
			q := append(append(Path{}, p...), f.Name)
			b, fi, err := s.ReadFile(bg, app, q, 0, -1)
			if err != nil {
				t.Fatalf("ReadFile %s: %v", q, err)
			}
			if fi.Size != int64(len(b)) || f.Size != fi.Size {
				t.Fatalf("%s: size %d/%d but %d bytes of content", q, f.Size, fi.Size, len(b))
			}
			st[strings.Join(q, "/")] = centry{content: b, meta: string(fi.UserMetadata)}
		}
	}
	walk(nil)
	return st
}

// TestCrashChild is the child half of TestCrash; it runs only when
// re-executed by TestCrash.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("child process of TestCrash only")
	}
	seed, _ := strconv.ParseUint(os.Getenv(crashEnv+"_SEED"), 10, 64)
	rng := rand.New(rand.NewPCG(seed, 7))
	// Every other pair of children acknowledges only after SQLite's fsync
	// (SyncCommit); the rest run the default, SyncBackground, where a kill
	// must not lose what was acknowledged either. Odd children have SQLite
	// checkpoint its log every few pages, so that kills also land inside
	// checkpoints.
	var opts Options
	if seed/2%2 == 1 {
		opts.Sync = SyncCommit
	}
	s, err := openUnlocked(afero.NewBasePathFs(afero.NewOsFs(), dir), opts)
	if err != nil {
		fmt.Println("ERR open", err)
		os.Exit(3)
	}
	if seed%2 == 1 {
		if err := s.Update(bg, func(tx *Tx) error {
			_, err := tx.SQL().ExecContext(tx.Context(), "PRAGMA wal_autocheckpoint = 8")
			return err
		}); err != nil {
			fmt.Println("ERR pragma", err)
			os.Exit(3)
		}
	}
	if !s.RootExists(app) {
		if _, err := s.CreateRoot(app); err != nil {
			fmt.Println("ERR root", err)
			os.Exit(3)
		}
	}
	fmt.Println("READY")
	st := readState(t, s)
	for i := 0; ; i++ {
		op := chooseOp(rng, st, fmt.Sprintf("%d-%d", seed, i))
		line, _ := json.Marshal(op)
		fmt.Printf("BEGIN %s\n", line)
		if err := runCrashOp(s, op); err != nil {
			fmt.Println("ERR", err)
			os.Exit(3)
		}
		fmt.Println("ACK")
		st.apply(op)
	}
}

func chooseOp(rng *rand.Rand, st cstate, tag string) crashOp {
	var dirs, files []string
	dirs = append(dirs, "")
	for k, v := range st {
		if v.dir {
			dirs = append(dirs, k)
		} else {
			files = append(files, k)
		}
	}
	sort.Strings(dirs)
	sort.Strings(files)
	split := func(k string) []string {
		if k == "" {
			return nil
		}
		return strings.Split(k, "/")
	}
	under := func(d, name string) []string { return append(split(d), name) }
	size := func() int {
		switch rng.IntN(8) {
		case 0:
			return 64<<10 + rng.IntN(512<<10)
		case 1:
			// Whole chunks: a file of whole chunks is appended to in
			// place (writeContent).
			return (1 + rng.IntN(3)) * chunkSize
		}
		return rng.IntN(5000)
	}
	b := byte(rng.IntN(256))
	switch n := rng.IntN(20); {
	case n < 2 || len(files) == 0:
		if len(dirs) < 8 && rng.IntN(2) == 0 {
			return crashOp{Kind: "mkdir", Path: under(dirs[rng.IntN(len(dirs))], "d"+tag)}
		}
		return crashOp{Kind: "create", Path: under(dirs[rng.IntN(len(dirs))], "f"+tag), Meta: "m" + tag}
	case n < 6:
		return crashOp{Kind: "write", Path: split(files[rng.IntN(len(files))]), Offset: -1, Byte: b, N: size()}
	case n < 10:
		f := files[rng.IntN(len(files))]
		return crashOp{Kind: "write", Path: split(f), Offset: int64(len(st[f].content)), Byte: b, N: size()}
	case n < 13:
		f := files[rng.IntN(len(files))]
		return crashOp{Kind: "write", Path: split(f), Offset: int64(rng.IntN(len(st[f].content) + 1)), Byte: b, N: size()}
	case n < 14:
		return crashOp{Kind: "meta", Path: split(files[rng.IntN(len(files))]), Meta: "meta" + tag}
	case n < 15 && len(files) > 3:
		if len(dirs) > 4 && rng.IntN(4) == 0 {
			return crashOp{Kind: "rmdir", Path: split(dirs[1+rng.IntN(len(dirs)-1)])}
		}
		return crashOp{Kind: "delete", Path: split(files[rng.IntN(len(files))])}
	case n < 17 && len(dirs) > 1:
		d := dirs[1+rng.IntN(len(dirs)-1)]
		return crashOp{Kind: "rename", Path: split(d), Name: "r" + tag}
	case n < 19 && len(dirs) > 2:
		d := dirs[1+rng.IntN(len(dirs)-1)]
		for range 5 {
			to := dirs[rng.IntN(len(dirs))]
			parent := strings.Join(split(d)[:len(split(d))-1], "/")
			if to != d && !strings.HasPrefix(to, d+"/") && to != parent {
				return crashOp{Kind: "move", Path: split(d), To: split(to)}
			}
		}
	}
	return crashOp{Kind: "create", Path: under(dirs[rng.IntN(len(dirs))], "f"+tag), Meta: "m" + tag}
}

func runCrashOp(s *Store, op crashOp) error {
	p := Path(op.Path)
	var err error
	switch op.Kind {
	case "mkdir":
		_, err = s.CreateDir(bg, app, p, false, false, nil)
	case "create":
		_, err = s.CreateFile(bg, app, p, []byte(op.Meta))
	case "write":
		c := &Content{Bytes: op.bytes()}
		if op.Offset >= 0 {
			c.Offset = &op.Offset
		}
		_, err = s.ModifyFile(bg, app, p, FileChange{Content: c})
	case "meta":
		_, err = s.ModifyFile(bg, app, p, FileChange{UserMetadata: ptr([]byte(op.Meta))})
	case "delete":
		err = s.DeleteFile(bg, app, p)
	case "rmdir":
		err = s.DeleteDir(bg, app, p)
	case "rename":
		_, err = s.ModifyDir(bg, app, p, DirChange{Name: &op.Name})
	case "move":
		_, err = s.MoveDir(bg, app, p, Path(op.To))
	default:
		err = fmt.Errorf("unknown op %q", op.Kind)
	}
	return err
}

// TestCrash kills a writing child process with SIGKILL at random moments and
// checks, after each kill, that Open succeeds and the store holds exactly
// every acknowledged operation, plus at most the one in flight; that every
// file's content matches its size and metadata; that no blob is left that no
// row points at (and none is missing); and that the stored usage is what
// the tree holds.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	dir := filepath.Join(t.TempDir(), "store")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	want := cstate{}
	deadline := time.Now().Add(15 * time.Second)
	totalAcks, inFlightApplied := 0, 0
	iter := 0
	for ; iter < 50 && time.Now().Before(deadline); iter++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir, fmt.Sprintf("%s_SEED=%d", crashEnv, iter))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			r := bufio.NewReader(out)
			for {
				l, err := r.ReadString('\n')
				if err != nil { // a torn last line is dropped
					close(lines)
					return
				}
				lines <- strings.TrimSuffix(l, "\n")
			}
		}()
		// Wait until the child has opened the store, then let it write
		// for a random while.
		if l := <-lines; l != "READY" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child said %q", l)
		}
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		var pending *crashOp
		for l := range lines {
			switch {
			case strings.HasPrefix(l, "BEGIN "):
				var op crashOp
				if err := json.Unmarshal([]byte(l[len("BEGIN "):]), &op); err != nil {
					t.Fatalf("bad line %q", l)
				}
				pending = &op
			case l == "ACK":
				want.apply(*pending)
				pending = nil
				totalAcks++
			case strings.HasPrefix(l, "ERR"):
				t.Fatalf("child: %s", l)
			}
		}
		cmd.Wait()

		s, err := openUnlocked(afero.NewBasePathFs(afero.NewOsFs(), dir), Options{})
		if err != nil {
			t.Fatalf("iteration %d: Open after kill: %v", iter, err)
		}
		got := readState(t, s)
		checkBlobs(t, s, afero.NewBasePathFs(afero.NewOsFs(), dir))
		checkUsage(t, s, app, got)
		s.Close()
		gs := got.String()
		if gs == want.String() {
			continue
		}
		if pending != nil {
			alt := want.clone()
			alt.apply(*pending)
			if gs == alt.String() {
				want = alt
				inFlightApplied++
				continue
			}
		}
		t.Fatalf("iteration %d: after kill the store holds\n%s\nwant (acknowledged)\n%s\npending %+v", iter, gs, want, pending)
	}
	if totalAcks < 2*iter {
		t.Fatalf("only %d acknowledged operations in %d runs: the test exercised little", totalAcks, iter)
	}
	t.Logf("%d runs, %d acknowledged ops, %d in-flight ops found applied, final state %d entries", iter, totalAcks, inFlightApplied, len(want))
}

// checkBlobs checks that the blob files of s are exactly those its rows
// point at, all in contentDir.
func checkBlobs(t testing.TB, s *Store, fsys afero.Fs) {
	t.Helper()
	want := map[string]bool{}
	err := s.View(bg, func(tx *Tx) error {
		rows, err := tx.SQL().QueryContext(tx.Context(), `SELECT blob FROM nodes WHERE blob IS NOT NULL`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var b []byte
			if err := rows.Scan(&b); err != nil {
				return err
			}
			want[contentName(b)] = true
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if in := hostFiles(t, fsys, incomingDir); len(in) != 0 {
		t.Fatalf("incoming holds %v after Open", in)
	}
	got := map[string]bool{}
	for _, f := range hostFiles(t, fsys, contentDir) {
		got[f] = true
		if !want[f] {
			t.Errorf("orphan blob %s", f)
		}
	}
	for f := range want {
		if !got[f] {
			t.Errorf("missing blob %s", f)
		}
	}
}

// checkUsage checks that the usage stored for root r is what st holds.
func checkUsage(t testing.TB, s *Store, r Root, st cstate) {
	t.Helper()
	var want Usage
	for _, e := range st {
		want.Entries++
		want.ContentBytes += int64(len(e.content))
		want.MetadataBytes += int64(len(e.meta))
	}
	got, err := s.Usage(bg, r)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("usage of %s: %+v, the tree holds %+v", r, got, want)
	}
}
