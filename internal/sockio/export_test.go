package sockio

// Raw says whether this build makes raw calls.
const Raw = raw
