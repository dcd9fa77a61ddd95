package cliflags

import (
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
)

func tool() *cobra.Command {
	root := &cobra.Command{Use: "tool"}
	root.PersistentFlags().String("data", "", "")
	sub := &cobra.Command{Use: "sub", Run: func(*cobra.Command, []string) {}}
	sub.Flags().Int("max-conns", 0, "")
	sub.Flags().Int("n", 0, "")
	sub.Flags().BoolP("json", "j", false, "")
	root.AddCommand(sub)
	return root
}

// TestLongFlagCompat: long flags of any command, local or persistent, lose
// their single dash before "--" only; unknown names, "-" and values stay;
// one-letter names only when asked.
func TestLongFlagCompat(t *testing.T) {
	in := []string{"-data", "d", "sub", "-max-conns=5", "-json", "-j", "-lead", "-", "-n", "3", "--", "-data"}
	assert.Equal(t,
		[]string{"--data", "d", "sub", "--max-conns=5", "--json", "-j", "-lead", "-", "-n", "3", "--", "-data"},
		LongFlagCompat(tool(), in, false))
	assert.Equal(t,
		[]string{"--data", "d", "sub", "--max-conns=5", "--json", "-j", "-lead", "-", "--n", "3", "--", "-data"},
		LongFlagCompat(tool(), in, true))
	assert.Equal(t, "-data", in[0], "the caller's args are not changed")
}
