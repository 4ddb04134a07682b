package testsignal

import "testing"

func TestInertUntilInit(t *testing.T) {
	t.Parallel()
	var s Signal[int]
	s.Signal(1) // must not block or panic
	s.Init(t)
	s.RequireEmpty(t)
	s.Signal(2)
	if got := s.WaitOrTimeout(t); got != 2 {
		t.Fatalf("got %d, want 2", got)
	}
}
