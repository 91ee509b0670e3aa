// libsamplerate's sample rate converter (pkg-config "samplerate"; Debian: libsamplerate0-dev).
#include <samplerate.h>
