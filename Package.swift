// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Glance",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "GlanceCore", targets: ["GlanceCore"]),
        .library(name: "GlanceNN", targets: ["GlanceNN"]),
        .library(name: "GlanceAttention", targets: ["GlanceAttention"]),
        .library(name: "GlanceData", targets: ["GlanceData"]),
        .library(name: "GlanceModels", targets: ["GlanceModels"]),
        .library(name: "GlanceTraining", targets: ["GlanceTraining"]),
        .library(name: "GlanceReport", targets: ["GlanceReport"]),
        .executable(name: "glance", targets: ["glance"]),
    ],
    // `swift build --traits MPI`: data-parallel `glance train` / `classify` under mpirun (needs Open MPI, pkg-config ompi-c).
    traits: [.trait(name: "MPI", description: "Data-parallel training across processes on Open MPI (libopenmpi-dev)")],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
    ],
    targets: [
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .systemLibrary(name: "CKissFFT", providers: [.apt(["libkissfft-dev"]), .brew(["kissfft"])]),
        .systemLibrary(name: "CSampleRate", pkgConfig: "samplerate", providers: [.apt(["libsamplerate0-dev"]), .brew(["libsamplerate"])]),
        .systemLibrary(
            name: "CMPI",
            pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev"])]
        ),
        .target(
            name: "GlanceCore",
            dependencies: [.target(name: "COpenBLAS", condition: .when(platforms: [.linux]))],
            linkerSettings: [.linkedFramework("Accelerate", .when(platforms: [.macOS]))]
        ),
        .target(name: "GlanceNN", dependencies: ["GlanceCore"]),
        .target(name: "GlanceAttention", dependencies: ["GlanceCore", "GlanceNN"]),
        .target(name: "GlanceData", dependencies: ["GlanceCore", "CKissFFT", "CSampleRate"]),
        .target(name: "GlanceModels", dependencies: ["GlanceCore", "GlanceNN", "GlanceAttention", "GlanceData"]),
        .target(name: "GlanceTraining", dependencies: ["GlanceCore", "GlanceNN", "GlanceData", "GlanceModels"]),
        // Benchmark results files, the report's SVG charts and the advisor.
        .target(name: "GlanceReport", dependencies: ["GlanceData"]),
        // Empty unless the MPI trait is on.
        .target(name: "GlanceDistributed", dependencies: [.target(name: "CMPI", condition: .when(traits: ["MPI"])), "GlanceTraining"]),
        .executableTarget(
            name: "glance",
            dependencies: [
                "GlanceCore", "GlanceNN", "GlanceAttention", "GlanceData", "GlanceModels", "GlanceTraining", "GlanceReport",
                .target(name: "GlanceDistributed", condition: .when(traits: ["MPI"])),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "GlanceTestSupport", dependencies: ["GlanceCore"], path: "Tests/GlanceTestSupport"),
        .testTarget(name: "GlanceCoreTests", dependencies: ["GlanceCore", "GlanceTestSupport"]),
        .testTarget(name: "GlanceNNTests", dependencies: ["GlanceNN", "GlanceTestSupport"]),
        .testTarget(name: "GlanceAttentionTests", dependencies: ["GlanceAttention", "GlanceTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "GlanceDataTests", dependencies: ["GlanceData", "GlanceTestSupport"]),
        .testTarget(name: "GlanceModelsTests", dependencies: ["GlanceModels", "GlanceTraining", "GlanceTestSupport"]),
        .testTarget(name: "GlanceTrainingTests", dependencies: ["GlanceTraining", "GlanceTestSupport"]),
        .testTarget(name: "GlanceReportTests", dependencies: ["GlanceReport", "GlanceTestSupport"]),
        .testTarget(name: "GlanceCLITests", dependencies: ["glance", "GlanceTestSupport"]),
    ]
)
