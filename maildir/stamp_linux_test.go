package maildir

import "testing"

func TestKernelAtLeast(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		release      string
		major, minor int
		want         bool
	}{
		{"6.13.0", 6, 13, true},
		{"6.12.9-amd64", 6, 13, false},
		{"6.18.44-fc-v657", 6, 13, true},
		{"7.0", 6, 13, true},
		{"5.10.0-28-amd64", 5, 8, true},
		{"5.7.19", 5, 8, false},
		{"4.19", 5, 8, false},
		{"", 5, 8, false},
		{"six.one", 5, 8, false},
	} {
		if got := kernelAtLeast(c.release, c.major, c.minor); got != c.want {
			t.Errorf("kernelAtLeast(%q, %d, %d) = %v", c.release, c.major, c.minor, got)
		}
	}
}
