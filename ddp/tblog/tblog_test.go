package tblog

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestMaskedCRC_KnownAnswer(t *testing.T) {
	// The CRC32C check value from the Castagnoli catalogue, and its mask
	// computed by hand: ((c>>15)|(c<<17)) + 0xa282ead8 mod 2^32.
	if c := crc32.Checksum([]byte("123456789"), castagnoli); c != 0xe3069283 {
		t.Fatalf("crc32c(123456789) = %#x, want 0xe3069283", c)
	}
	if m := maskedCRC([]byte("123456789")); m != 0xc78ab0e5 {
		t.Errorf("masked crc32c(123456789) = %#x, want 0xc78ab0e5", m)
	}
}

func TestRecord_Golden(t *testing.T) {
	// Made by `python3 testdata/read_events.py --encode`, which encodes
	// Event{wall_time 1.5, step 7, summary{value{tag "loss", simple_value
	// 0.25}}} and its framing with its own CRC32C and protobuf code.
	const want = "1a00000000000000129bd82d09000000000000f83f10072a0d0a0b0a046c6f7373150000803ec9d07b8d"
	got := hex.EncodeToString(appendRecord(nil, scalarEvent(1.5, 7, "loss", 0.25)))
	if got != want {
		t.Errorf("record\n got %s\nwant %s", got, want)
	}
}

// writeSample writes n scalars for two tags and returns the file's path.
func writeSample(t *testing.T, n int) (string, []Record) {
	t.Helper()
	w, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Unix(1700000000, 0)
	w.now = func() time.Time { clock = clock.Add(250 * time.Millisecond); return clock }
	var want []Record
	for step := range int64(n) {
		for _, tag := range []string{"train/loss", "train/learning_rate"} {
			v := math.Exp(-float64(step)/10) * 1e-3
			if err := w.Scalar(tag, step, v); err != nil {
				t.Fatal(err)
			}
			want = append(want, Record{WallTime: wallTime(clock), Step: step, Tag: tag, Value: float64(float32(v))})
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := w.Scalar("x", 0, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Scalar after Close: %v, want ErrClosed", err)
	}
	return w.Path(), want
}

func TestWriter_RoundTrip(t *testing.T) {
	path, want := writeSample(t, 300)
	if ok, _ := regexp.MatchString(`^events\.out\.tfevents\.\d{10}\..+\.\d+\.\d+$`, filepath.Base(path)); !ok {
		t.Errorf("file name %q does not look like PyTorch's", filepath.Base(path))
	}
	got, err := ReadScalars(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ReadScalars (-want +got):\n%s", d)
	}
	files, err := Files(filepath.Dir(path))
	if err != nil || len(files) != 1 || files[0] != path {
		t.Errorf("Files = %v, %v; want [%s]", files, err, path)
	}
}

func TestReadScalars_Corrupt(t *testing.T) {
	path, _ := writeSample(t, 3)
	b, _ := os.ReadFile(path)
	first := 16 + int(b[0]) // the file_version record
	for name, off := range map[string]int{
		"length": first + 3,       // inside the second record's length
		"data":   first + 12 + 20, // inside its event
		"crc":    len(b) - 1,      // the last record's data CRC
	} {
		t.Run(name, func(t *testing.T) {
			bad := bytes.Clone(b)
			bad[off] ^= 0x40
			p := filepath.Join(t.TempDir(), "events.out.tfevents.bad")
			if err := os.WriteFile(p, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadScalars(p)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v, want ErrCorrupt", err)
			}
			if !strings.Contains(err.Error(), p+": offset ") {
				t.Errorf("error %q does not name the file and offset", err)
			}
			t.Log(err)
		})
	}
}

func TestReadScalars_Truncated(t *testing.T) {
	path, want := writeSample(t, 3)
	b, _ := os.ReadFile(path)
	for _, cut := range []int{1, 5, 13, 20} {
		p := filepath.Join(t.TempDir(), "events.out.tfevents.torn")
		if err := os.WriteFile(p, b[:len(b)-cut], 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadScalars(p)
		if !errors.Is(err, ErrTruncated) {
			t.Errorf("cut %d: error %v, want ErrTruncated", cut, err)
		}
		if d := cmp.Diff(want[:len(want)-1], got); d != "" {
			t.Errorf("cut %d: records before the torn one (-want +got):\n%s", cut, d)
		}
	}
}

// TestPythonReader reads our file with testdata/read_events.py, an
// independent implementation of the format that also defers to
// tensorboard's EventFileLoader when that package is installed.
func TestPythonReader(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	path, want := writeSample(t, 20)
	cmd := exec.Command(py, "testdata/read_events.py", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("read_events.py: %v\n%s", err, stderr.Bytes())
	}
	if strings.Contains(stderr.String(), "tensorboard EventFileLoader agrees") {
		t.Log("tensorboard's EventFileLoader read the file")
	} else {
		t.Log("tensorboard is not installed (Debian 12 ships no python3-tensorboard); checked with the independent reader only")
	}
	var got []Record
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r struct {
			Tag      string  `json:"tag"`
			Step     int64   `json:"step"`
			Value    float64 `json:"value"`
			WallTime float64 `json:"wall_time"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		got = append(got, Record{WallTime: r.WallTime, Step: r.Step, Tag: r.Tag, Value: r.Value})
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("python reader (-want +got):\n%s", d)
	}
}

func TestWriter_Concurrent(t *testing.T) {
	w, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 100 {
				_ = w.Scalar(fmt.Sprintf("g%d", g), int64(i), float64(i))
			}
		}()
	}
	for range 4 {
		<-done
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	recs, err := ReadScalars(w.Path())
	if err != nil || len(recs) != 400 {
		t.Errorf("read %d records, %v; want 400", len(recs), err)
	}
}
