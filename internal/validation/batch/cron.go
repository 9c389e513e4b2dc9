package batch

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// CronSchedule is a parsed CronJob schedule.
type CronSchedule interface {
	// Next returns the first activation time strictly after t, or the zero
	// time if there is none within the next five years.
	Next(t time.Time) time.Time
}

// ParseCronSchedule parses a CronJob schedule.
//
// The accepted syntax is the standard five-field cron format
// "minute hour day-of-month month day-of-week" where each field is a
// comma-separated list of "*", "?", "N", "N-M", each optionally followed by
// "/step" ("N/step" means "N-max/step"); months accept jan..dec and days of
// week sun..sat (0-6), case-insensitively. The descriptors @yearly,
// @annually, @monthly, @weekly, @daily, @midnight, @hourly and
// "@every <duration>" are accepted too, and the whole spec may be prefixed by
// "TZ=<zone> " or "CRON_TZ=<zone> ". As in cron, when both day-of-month and
// day-of-week are restricted a day matching either one fires. Error
// messages follow those of github.com/robfig/cron/v3, which upstream uses.
func ParseCronSchedule(spec string) (CronSchedule, error) {
	if spec == "" {
		return nil, errors.New("empty spec string")
	}
	loc := time.Local
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		i := strings.Index(spec, " ")
		if i < 0 {
			i = len(spec)
		}
		name := spec[strings.Index(spec, "=")+1 : i]
		l, err := time.LoadLocation(name)
		if err != nil {
			return nil, fmt.Errorf("provided bad location %s: %v", name, err)
		}
		loc = l
		spec = strings.TrimSpace(spec[i:])
	}
	if strings.HasPrefix(spec, "@") {
		return parseDescriptor(spec, loc)
	}
	fields := strings.Fields(spec)
	if len(fields) != 5 {
		return nil, fmt.Errorf("expected exactly 5 fields, found %d: %s", len(fields), fields)
	}
	s := &fieldSchedule{loc: loc}
	var err error
	for i, dst := range []*uint64{&s.minute, &s.hour, &s.dom, &s.month, &s.dow} {
		if *dst, err = parseField(fields[i], cronFields()[i]); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// bounds describes one cron field.
type bounds struct {
	min, max uint
	names    map[string]uint
}

// cronFields returns the bounds of minute, hour, day-of-month, month and
// day-of-week, in that order.
func cronFields() [5]bounds {
	return [5]bounds{
		{min: 0, max: 59},
		{min: 0, max: 23},
		{min: 1, max: 31},
		{min: 1, max: 12, names: map[string]uint{
			"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
			"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
		}},
		{min: 0, max: 6, names: map[string]uint{
			"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6,
		}},
	}
}

// starBit marks a field written as an unrestricted "*" or "?"; it matters
// for the day-of-month/day-of-week combination rule.
const starBit = uint64(1) << 63

func parseField(expr string, b bounds) (uint64, error) {
	var bits uint64
	for _, part := range strings.Split(expr, ",") {
		v, err := parseRange(part, b)
		if err != nil {
			return 0, err
		}
		bits |= v
	}
	return bits, nil
}

func parseRange(expr string, b bounds) (uint64, error) {
	rangeAndStep := strings.Split(expr, "/")
	if len(rangeAndStep) > 2 {
		return 0, fmt.Errorf("too many slashes: %s", expr)
	}
	lowHigh := strings.Split(rangeAndStep[0], "-")
	if len(lowHigh) > 2 {
		return 0, fmt.Errorf("too many hyphens: %s", expr)
	}
	var start, end uint
	var extra uint64
	if lowHigh[0] == "*" || lowHigh[0] == "?" {
		// As in robfig/cron, anything after "*-" is ignored.
		start, end, extra = b.min, b.max, starBit
	} else {
		var err error
		if start, err = parseValue(lowHigh[0], b); err != nil {
			return 0, err
		}
		end = start
		if len(lowHigh) == 2 {
			if end, err = parseValue(lowHigh[1], b); err != nil {
				return 0, err
			}
		}
	}
	step := uint(1)
	if len(rangeAndStep) == 2 {
		var err error
		if step, err = parseNumber(rangeAndStep[1]); err != nil {
			return 0, err
		}
		if len(lowHigh) == 1 {
			end = b.max // "N/step" runs to the end of the range
		}
		if step > 1 {
			extra = 0
		}
	}
	switch {
	case start < b.min:
		return 0, fmt.Errorf("beginning of range (%d) below minimum (%d): %s", start, b.min, expr)
	case end > b.max:
		return 0, fmt.Errorf("end of range (%d) above maximum (%d): %s", end, b.max, expr)
	case start > end:
		return 0, fmt.Errorf("beginning of range (%d) beyond end of range (%d): %s", start, end, expr)
	case step == 0:
		return 0, fmt.Errorf("step of range should be a positive number: %s", expr)
	}
	var bits uint64
	for v := start; v <= end; v += step {
		bits |= 1 << v
	}
	return bits | extra, nil
}

// parseValue parses a number or, where the field has names, a name.
func parseValue(s string, b bounds) (uint, error) {
	if v, ok := b.names[strings.ToLower(s)]; ok {
		return v, nil
	}
	return parseNumber(s)
}

func parseNumber(s string) (uint, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("failed to parse int from %s: %w", s, err)
	}
	if n < 0 {
		return 0, fmt.Errorf("negative number (%d) not allowed: %s", n, s)
	}
	return uint(n), nil
}

func parseDescriptor(spec string, loc *time.Location) (CronSchedule, error) {
	const every = "@every "
	if strings.HasPrefix(spec, every) {
		d, err := time.ParseDuration(spec[len(every):])
		if err != nil {
			return nil, fmt.Errorf("failed to parse duration %s: %s", spec, err)
		}
		if d < time.Second {
			d = time.Second
		}
		return everySchedule{delay: d.Truncate(time.Second)}, nil
	}
	var equivalent string
	switch spec {
	case "@yearly", "@annually":
		equivalent = "0 0 1 1 *"
	case "@monthly":
		equivalent = "0 0 1 * *"
	case "@weekly":
		equivalent = "0 0 * * 0"
	case "@daily", "@midnight":
		equivalent = "0 0 * * *"
	case "@hourly":
		equivalent = "0 * * * *"
	default:
		return nil, fmt.Errorf("unrecognized descriptor: %s", spec)
	}
	s, err := ParseCronSchedule(equivalent)
	if err != nil {
		return nil, err
	}
	s.(*fieldSchedule).loc = loc
	return s, nil
}

// fieldSchedule is a five-field schedule; each field is a bit set of the
// values it matches (plus starBit).
type fieldSchedule struct {
	minute, hour, dom, month, dow uint64
	loc                           *time.Location
}

func has(bits uint64, v int) bool { return bits&(1<<uint(v)) != 0 }

func (s *fieldSchedule) dayMatches(t time.Time) bool {
	domOK := has(s.dom, t.Day())
	dowOK := has(s.dow, int(t.Weekday()))
	if s.dom&starBit != 0 || s.dow&starBit != 0 {
		return domOK && dowOK
	}
	return domOK || dowOK
}

// Next implements CronSchedule. It walks forward field by field, in the
// schedule's time zone, returning the zero time after five years without a
// match (for example "0 0 30 2 *"). Minute and hour steps add absolute
// durations so the walk never goes backwards across a DST change.
func (s *fieldSchedule) Next(t time.Time) time.Time {
	orig := t.Location()
	t = t.In(s.loc)
	t = t.Add(time.Minute - time.Duration(t.Second())*time.Second - time.Duration(t.Nanosecond()))
	limit := t.AddDate(5, 0, 0)
	for t.Before(limit) {
		switch {
		case !has(s.month, int(t.Month())):
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, s.loc)
		case !s.dayMatches(t):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, s.loc)
		case !has(s.hour, t.Hour()):
			t = t.Add(time.Duration(60-t.Minute()) * time.Minute)
		case !has(s.minute, t.Minute()):
			t = t.Add(time.Minute)
		default:
			return t.In(orig)
		}
	}
	return time.Time{}
}

// everySchedule fires at a constant interval ("@every 1h30m").
type everySchedule struct{ delay time.Duration }

// Next implements CronSchedule: t plus the delay, rounded down to a second.
func (e everySchedule) Next(t time.Time) time.Time {
	return t.Add(e.delay - time.Duration(t.Nanosecond()))
}
