package main

import (
	"testing"
)

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1024", 1024, true},
		{"-1", -1, true},
		{"512m", 512 << 20, true},
		{"512M", 512 << 20, true},
		{"1g", 1 << 30, true},
		{"1gb", 1 << 30, true},
		{"1GiB", 1 << 30, true},
		{"2k", 2048, true},
		{"1.5k", 1536, true},
		{"3t", 3 << 40, true},
		{"1p", 1 << 50, true},
		{"", 0, false},
		{"m", 0, false},
		{"lots", 0, false},
		{"-5", 0, false},
		{"-1m", 0, false},
		{"1e3", 0, false},
		{"0x10", 0, false},
		{"8192p", 0, false},
		{"NaN", 0, false},
		{"inf", 0, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseBytes(tc.in)
			if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
				t.Errorf("parseBytes(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestValidCPUList(t *testing.T) {
	for in, want := range map[string]bool{
		"0": true, "0-3": true, "0-3,5": true, "1,2,3": true, "0-0": true,
		"": false, "x": false, "3-1": false, "0-": false, "-1": false, "0,,1": false, "0-3 ": false,
	} {
		if got := validCPUList(in); got != want {
			t.Errorf("validCPUList(%q) = %v, want %v", in, got, want)
		}
	}
}

func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"1024", "-1", "512m", "1.5k", "1GiB", "lots"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseBytes(s)
		if err == nil && n < -1 {
			t.Errorf("parseBytes(%q) = %d", s, n)
		}
	})
}
