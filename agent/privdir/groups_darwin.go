package privdir

// adminGroups are the groups whose members may already act as root, so a
// file or directory they can write is no weaker than one only root can:
// wheel (0), and admin (80), which owns system directories such as
// /Library/Application Support on some macOS versions and whose members
// may use sudo.
func adminGroups() []int { return []int{0, 80} }
