import Foundation

/// A small writer of SVG images (no scripts): lines, polylines, filled polygons and text on a
/// canvas of `width` × `height` pixels, y growing downwards.
public struct SVGDocument {
    public let width: Double
    public let height: Double
    private var elements: [String] = []

    public init(width: Double, height: Double) {
        (self.width, self.height) = (width, height)
    }

    public mutating func line(from a: (x: Double, y: Double), to b: (x: Double, y: Double), stroke: String, width: Double = 1) {
        elements.append(#"<line x1="\#(Self.number(a.x))" y1="\#(Self.number(a.y))" x2="\#(Self.number(b.x))" y2="\#(Self.number(b.y))" stroke="\#(stroke)" stroke-width="\#(Self.number(width))"/>"#)
    }

    public mutating func polyline(_ points: [(x: Double, y: Double)], stroke: String, width: Double = 1.5, dash: String? = nil) {
        guard !points.isEmpty else { return }
        let dashes = dash.map { #" stroke-dasharray="\#($0)""# } ?? ""
        elements.append(#"<polyline fill="none" stroke="\#(stroke)" stroke-width="\#(Self.number(width))"\#(dashes) points="\#(Self.pointList(points))"/>"#)
    }

    public mutating func polygon(_ points: [(x: Double, y: Double)], fill: String, opacity: Double) {
        guard !points.isEmpty else { return }
        elements.append(#"<polygon fill="\#(fill)" fill-opacity="\#(Self.number(opacity))" stroke="none" points="\#(Self.pointList(points))"/>"#)
    }

    /// `anchor`: start, middle or end.
    public mutating func text(_ content: String, at point: (x: Double, y: Double), size: Double = 12, anchor: String = "start", fill: String = "#333") {
        elements.append(#"<text x="\#(Self.number(point.x))" y="\#(Self.number(point.y))" font-family="sans-serif" font-size="\#(Self.number(size))" text-anchor="\#(anchor)" fill="\#(fill)">\#(Self.escaped(content))</text>"#)
    }

    /// The document: an XML declaration and one `svg` element.
    public var text: String {
        let header = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n"
            + #"<svg xmlns="http://www.w3.org/2000/svg" width="\#(Self.number(width))" height="\#(Self.number(height))" viewBox="0 0 \#(Self.number(width)) \#(Self.number(height))">"#
            + "\n" + #"<rect width="100%" height="100%" fill="white"/>"#
        return ([header] + elements + ["</svg>"]).joined(separator: "\n") + "\n"
    }

    /// `&`, `<`, `>` and quotes as XML entities.
    public static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func number(_ value: Double) -> String { String(format: "%.1f", value.isFinite ? value : 0) }

    static func pointList(_ points: [(x: Double, y: Double)]) -> String {
        points.map { "\(number($0.x)),\(number($0.y))" }.joined(separator: " ")
    }
}
