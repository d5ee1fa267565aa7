package value

import (
	"strings"
	"testing"
)

func TestCheckJSON(t *testing.T) {
	deep := strings.Repeat("[", 513) + strings.Repeat("]", 513)
	if err := CheckJSON(deep); err == nil {
		t.Error("513 levels accepted, want an error")
	}
	ok := strings.Repeat("[", 512) + strings.Repeat("]", 512)
	if err := CheckJSON(ok); err != nil {
		t.Errorf("512 levels refused: %v", err)
	}
	inString := `["` + strings.Repeat("[", 600) + `\"` + `"]`
	if err := CheckJSON(inString); err != nil {
		t.Errorf("brackets inside a string counted: %v", err)
	}
	long := "[" + strings.Repeat("9", MaxJSONNumberDigits+1) + "]"
	if err := CheckJSON([]byte(long)); err == nil {
		t.Errorf("a %d-digit number accepted, want an error", MaxJSONNumberDigits+1)
	}
	digitsInString := `["` + strings.Repeat("9", MaxJSONNumberDigits+1) + `", 1]`
	if err := CheckJSON(digitsInString); err != nil {
		t.Errorf("digits inside a string counted: %v", err)
	}
}
