// swift-tools-version:6.0
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
        .executable(name: "glance", targets: ["glance"]),
    ],
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
        .executableTarget(
            name: "glance",
            dependencies: [
                "GlanceCore", "GlanceNN", "GlanceAttention", "GlanceData", "GlanceModels", "GlanceTraining",
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
        .testTarget(name: "GlanceCLITests", dependencies: ["glance", "GlanceTestSupport"]),
    ]
)
