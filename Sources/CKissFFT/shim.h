// kissfft's real-input FFT in single precision (Debian: libkissfft-dev, pkg-config "kissfft-float").
// The header is included by its kissfft/ folder rather than through pkg-config, whose
// -Dkiss_fft_scalar=float flag SwiftPM refuses (float is the header's default anyway).
#include <kissfft/kiss_fftr.h>
