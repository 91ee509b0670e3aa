import GlanceCore
import GlanceNN

/// What a forecaster reads at each step: the previous value scaled by its window's scale,
/// the covariates of the step and the series' index.
public struct SeriesInputBatch {
    /// Scaled previous values [batch, length].
    public let values: Tensor
    /// Covariates [batch, length, featureCount].
    public let covariates: Tensor
    /// The series of each row.
    public let series: [Int]

    public init(values: Tensor, covariates: Tensor, series: [Int]) {
        precondition(values.rank == 2 && covariates.rank == 3 && covariates.shape[0] == values.shape[0] && covariates.shape[1] == values.shape[1]
                     && series.count == values.shape[0], "values \(values.shape), covariates \(covariates.shape), \(series.count) series")
        (self.values, self.covariates, self.series) = (values, covariates, series)
    }
}

/// The forecaster's input stage: a linear map of [scaled value, covariates] to d_model, plus
/// a learned vector of the series (when there is an embedding), plus absolute positions, then
/// dropout (Li et al. 2019 concatenate these parts; a sum of their projections is the same
/// family of maps).
public final class SeriesInput: Module, InputStage {
    public let projection: Linear
    public let seriesEmbedding: Embedding?
    public let learnedPositions: LearnedPositions?
    public let dropout: Dropout
    public let positions: AbsolutePositions
    private let sinusoids: Tensor?
    /// Steps the stage can number.
    public let maximumLength: Int

    public init(featureCount: Int, seriesCount: Int?, dimensions: Int, maximumLength: Int, positions: AbsolutePositions, dropout: Float,
                source: RandomSource, generator: inout RandomGenerator) {
        let std = TransformerBlock.initialStandardDeviation
        projection = Linear(1 + featureCount, dimensions, standardDeviation: std, generator: &generator)
        seriesEmbedding = seriesCount.map { Embedding(count: $0, dimensions: dimensions, standardDeviation: std, generator: &generator) }
        (learnedPositions, sinusoids) = positions.tables(maximumLength: maximumLength, dimensions: dimensions, generator: &generator)
        self.dropout = Dropout(probability: dropout, source: source)
        (self.positions, self.maximumLength) = (positions, maximumLength)
        super.init()
    }

    public var outputDimensions: Int { projection.outputCount }
    public var featureCount: Int { projection.inputCount - 1 }

    /// Hidden states [batch, length, d] of steps `firstPosition ..< firstPosition + length`.
    public func callAsFunction(_ input: SeriesInputBatch, firstPosition: Int = 0) -> Tensor {
        let (batch, length) = (input.values.shape[0], input.values.shape[1])
        precondition(input.covariates.shape[2] == featureCount, "covariates \(input.covariates.shape) for a stage of \(featureCount) features")
        let range = firstPosition..<(firstPosition + length)
        precondition(range.upperBound <= maximumLength, "steps \(range) exceed the \(maximumLength) steps of the model")
        var hidden = projection(concatenate([input.values.reshaped(to: [batch, length, 1]), input.covariates], alongAxis: 2))
        if let seriesEmbedding {
            hidden = hidden + seriesEmbedding(IndexTensor(input.series, shape: [batch])).reshaped(to: [batch, 1, outputDimensions])
        }
        if let table = learnedPositions?.weight.value ?? sinusoids { hidden = hidden + table.sliced(alongAxis: 0, range) }
        return dropout(hidden)
    }
}
