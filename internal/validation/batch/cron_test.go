package batch

import (
	"strings"
	"testing"
	"time"
)

func TestParseCronScheduleErrors(t *testing.T) {
	cases := []struct {
		spec    string
		wantErr string // substring; "" means valid
	}{
		{spec: "* * * * *"},
		{spec: "*/15 0-6,22 1,15 JAN-mar mon-FRI"},
		{spec: "0 9 ? * sun"},
		{spec: "5/10 * * * *"},
		{spec: "0 0 31 12 6"},
		{spec: "@hourly"},
		{spec: "@every 90m"},
		{spec: "TZ=UTC 0 0 * * *"},
		{spec: "CRON_TZ=Europe/Berlin @daily"},
		{spec: "", wantErr: "empty spec string"},
		{spec: "* * * *", wantErr: "expected exactly 5 fields, found 4: [* * * *]"},
		{spec: "* * * * * *", wantErr: "expected exactly 5 fields, found 6"},
		{spec: "60 * * * *", wantErr: "end of range (60) above maximum (59): 60"},
		{spec: "* 24 * * *", wantErr: "end of range (24) above maximum (23)"},
		{spec: "* * 0 * *", wantErr: "beginning of range (0) below minimum (1): 0"},
		{spec: "* * * 13 *", wantErr: "above maximum (12)"},
		{spec: "* * * * 7", wantErr: "end of range (7) above maximum (6)"},
		{spec: "5-1 * * * *", wantErr: "beginning of range (5) beyond end of range (1): 5-1"},
		{spec: "*/0 * * * *", wantErr: "step of range should be a positive number: */0"},
		{spec: "1-2-3 * * * *", wantErr: "too many hyphens: 1-2-3"},
		{spec: "*/2/3 * * * *", wantErr: "too many slashes: */2/3"},
		{spec: "x * * * *", wantErr: "failed to parse int from x"},
		{spec: "* * * foo *", wantErr: "failed to parse int from foo"},
		{spec: "@fortnightly", wantErr: "unrecognized descriptor: @fortnightly"},
		{spec: "@every soon", wantErr: "failed to parse duration @every soon"},
		{spec: "TZ=Mars/Olympus * * * * *", wantErr: "provided bad location Mars/Olympus"},
	}
	for _, tc := range cases {
		t.Run(tc.spec, func(t *testing.T) {
			_, err := ParseCronSchedule(tc.spec)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("expected error containing %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("error %q does not contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestCronScheduleNext(t *testing.T) {
	base := time.Date(2026, time.March, 14, 10, 17, 30, 0, time.UTC) // a Saturday
	cases := []struct {
		spec string
		from time.Time
		want time.Time
	}{
		{"* * * * *", base, time.Date(2026, 3, 14, 10, 18, 0, 0, time.UTC)},
		{"*/15 * * * *", base, time.Date(2026, 3, 14, 10, 30, 0, 0, time.UTC)},
		{"0 * * * *", base, time.Date(2026, 3, 14, 11, 0, 0, 0, time.UTC)},
		{"@hourly", base, time.Date(2026, 3, 14, 11, 0, 0, 0, time.UTC)},
		{"@daily", base, time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)},
		{"@weekly", base, time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)},
		{"@monthly", base, time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)},
		{"@yearly", base, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"30 9 * * mon-fri", base, time.Date(2026, 3, 16, 9, 30, 0, 0, time.UTC)},
		// dom and dow both restricted: either matches (the 1st or a Monday).
		{"0 0 1 * mon", base, time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC)},
		{"0 0 29 2 *", base, time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"0 0 30 2 *", base, time.Time{}},
		{"17 10 14 3 *", base, time.Date(2027, 3, 14, 10, 17, 0, 0, time.UTC)},
		{"@every 1h30m", base, base.Add(90 * time.Minute)},
		{"TZ=America/New_York 0 9 * * *", base, time.Date(2026, 3, 14, 13, 0, 0, 0, time.UTC)},
	}
	for _, tc := range cases {
		t.Run(tc.spec, func(t *testing.T) {
			s, err := ParseCronSchedule(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Next(tc.from); !got.Equal(tc.want) {
				t.Fatalf("Next(%v) = %v, want %v", tc.from, got, tc.want)
			}
		})
	}
}

func TestCronScheduleNextAcrossDST(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseCronSchedule("TZ=America/New_York 30 2 * * *")
	if err != nil {
		t.Fatal(err)
	}
	// 2026-03-08 02:30 does not exist in New York; the next 02:30 is on the 9th.
	from := time.Date(2026, 3, 8, 0, 0, 0, 0, ny)
	want := time.Date(2026, 3, 9, 2, 30, 0, 0, ny)
	if got := s.Next(from); !got.Equal(want) {
		t.Fatalf("Next = %v, want %v", got, want)
	}
	// Fall back: consecutive minutes keep moving forward through the repeated hour.
	every := mustParse(t, "TZ=America/New_York * 1 * * *")
	cur := time.Date(2026, 11, 1, 0, 59, 0, 0, ny)
	for range 130 {
		next := every.Next(cur)
		if !next.After(cur) {
			t.Fatalf("Next(%v) = %v did not advance", cur, next)
		}
		cur = next
	}
}

func mustParse(t *testing.T, spec string) CronSchedule {
	t.Helper()
	s, err := ParseCronSchedule(spec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
