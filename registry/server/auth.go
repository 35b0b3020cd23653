package server

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// htpasswd checks HTTP basic credentials against the bcrypt entries of an
// htpasswd file ("user:$2y$..." lines, as `htpasswd -B` writes them and
// docker-registry reads them). Other hash schemes are refused when the
// file is loaded, not at first use.
type htpasswd struct {
	users map[string][]byte // user -> bcrypt hash

	// ok caches, per user, the SHA-256 of the last password that passed
	// bcrypt, so a pull of many blobs pays bcrypt's cost once, not per
	// request.
	mu sync.Mutex
	ok map[string][32]byte
}

func loadHtpasswd(path string) (*htpasswd, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("htpasswd: %w", err)
	}
	h := &htpasswd{users: map[string][]byte{}, ok: map[string][32]byte{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, found := strings.Cut(line, ":")
		if !found || user == "" {
			return nil, fmt.Errorf("htpasswd %s:%d: not a user:hash line", path, n)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("htpasswd %s:%d: user %q: only bcrypt entries are supported (htpasswd -B): %w", path, n, user, err)
		}
		h.users[user] = []byte(hash)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("htpasswd: %w", err)
	}
	if len(h.users) == 0 {
		return nil, fmt.Errorf("htpasswd %s: no users", path)
	}
	return h, nil
}

// allow reports whether r carries valid basic credentials.
func (h *htpasswd) allow(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	hash, known := h.users[user]
	if !known {
		// Spend bcrypt's time anyway, so unknown users are not told apart.
		bcrypt.CompareHashAndPassword(dummyHash(), []byte(pass))
		return false
	}
	sum := sha256.Sum256([]byte(pass))
	h.mu.Lock()
	cached, hit := h.ok[user]
	h.mu.Unlock()
	if hit && subtle.ConstantTimeCompare(cached[:], sum[:]) == 1 {
		return true
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(pass)) != nil {
		return false
	}
	h.mu.Lock()
	h.ok[user] = sum
	h.mu.Unlock()
	return true
}

var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("ocikit"), bcrypt.DefaultCost)
	return h
})
