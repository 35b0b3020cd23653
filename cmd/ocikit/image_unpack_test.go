package main

import (
	"slices"
	"testing"
)

func TestHostEnv(t *testing.T) {
	t.Setenv("OCIKIT_TEST_SET", "from host")
	t.Setenv("OCIKIT_TEST_EMPTY", "")
	tests := []struct {
		in, want []string
	}{
		{nil, []string{}},
		{[]string{"A=1", "B="}, []string{"A=1", "B="}},
		{[]string{"OCIKIT_TEST_SET"}, []string{"OCIKIT_TEST_SET=from host"}},
		{[]string{"OCIKIT_TEST_EMPTY"}, []string{"OCIKIT_TEST_EMPTY="}},
		{[]string{"OCIKIT_TEST_UNSET_VARIABLE", "C=3"}, []string{"C=3"}},
		{[]string{""}, []string{""}}, // left for convert to reject
	}
	for _, tt := range tests {
		if got := hostEnv(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("hostEnv(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
