import ArgumentParser
import Foundation
import GlanceCore
import GlanceData
import GlanceModels

extension Bench {
    /// `--model parakeet-ctc`: the real-time factor of transcription with a random-weight model
    /// of nvidia/parakeet-ctc-0.6b's sizes (Hugging Face ParakeetEncoderConfig's defaults: d 1024,
    /// 24 layers, 8 heads, d_ff 4096, kernel 9, 8× dw_striding subsampling with 256 channels, 80
    /// mel bins; 1,025 output units). `--heads` × `--head-dim` and `--model-depth` shrink it
    /// (e.g. for a quick check). Each `--length` is seconds of audio (a noisy tone, `--batch`
    /// utterances); one timed run is log-mel features → encoder → CTC head → greedy decoding,
    /// as `glance transcribe` runs them. Reports audio seconds per CPU second (all threads) and
    /// per wall-clock second.
    func runParakeetRealTime() throws {
        let paperSizes = heads == 8 && headDim == 64
        let (width, blockHeads) = paperSizes ? (1024, 8) : (heads * headDim, heads)
        let configuration = ConformerEncoderConfiguration(features: 80, subsampling: .depthwiseStriding, subsamplingFactor: 8, subsamplingChannels: 256,
                                                          modelDimensions: width, layers: modelDepth ?? 24, heads: blockHeads,
                                                          feedForwardDimensions: 4 * width, kernelSize: 9, dropout: 0)
        let model = ConformerCTC(encoder: try ConformerEncoder(configuration: configuration), vocabulary: 1025, blank: 1024)
        model.eval()
        let extractor = try LogMelFeatures(LogMelConfiguration())
        for (index, seconds) in try lengths().enumerated() {
            var generator = RandomGenerator(seed: 0)
            let samples = (0..<(seconds * 16_000)).map { 0.3 * sin(Float($0) * 0.15) + 0.05 * generator.nextNormal() }
            let audio = [[Float]](repeating: samples, count: batch)
            let startCPU = processCPUSeconds()
            let wall = medianMilliseconds(repeats: `repeat`) {
                let features = try! extractor.features(batch: audio)
                _ = model.decode(features.features, lengths: features.lengths)
            }
            let cpuPerRun = (processCPUSeconds() - startCPU) / Double(`repeat` + 1)
            let audioSeconds = Double(seconds * batch)
            try report(settings: [("model", "parakeet-ctc"), ("parameters", model.parameterCount()), ("d_model", width), ("layers", configuration.layers),
                                  ("heads", blockHeads), ("batch", batch), ("threads", Threading.count)],
                       measurements: [("audio_seconds", audioSeconds), ("wall_ms", rounded(wall)), ("cpu_seconds", rounded(cpuPerRun)),
                                      ("audio_seconds_per_cpu_second", rounded(audioSeconds / cpuPerRun)),
                                      ("real_time_factor", rounded(audioSeconds / (wall / 1000))), ("peak_rss_bytes", peakResidentBytes())],
                       first: index == 0)
        }
    }
}
