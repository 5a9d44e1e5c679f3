package launcher_test

import (
	"sort"
	"strings"
	"sync"
)

type syncBuilder struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func sortStrings(s []string) { sort.Strings(s) }
