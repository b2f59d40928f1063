// `replay serve`: cutting a recorded frame down to one client's subscription. Frames the
// client subscribed to entirely go out byte-exact; mixed frames are rebuilt from the kept
// byte ranges of the original (`FrameLayout` in Tape does the cutting).
import Tape

/// The structure of one recorded frame, computed once when the tape is loaded.
typealias ServeFrameLayout = FrameLayout

/// What a client gets for one recorded frame.
typealias ServeFilterOutcome = FrameCutOutcome

/// Cuts frames down to a subscription; see the file comment for the rules.
enum ServeFrameFilter {
    /// Decides what a client subscribed to `subscribed` receives for `frame`.
    ///
    /// Rules: an event with no asset id passes; an event for no subscribed asset is dropped;
    /// a `price_change` with entries for subscribed and other assets keeps only the
    /// subscribed entries; an array keeps only the kept events (an array left empty is not
    /// sent). A frame whose events are all kept whole is sent byte-exact.
    static func filter(
        _ frame: UnsafeRawBufferPointer, layout: ServeFrameLayout, subscribed: Set<String>
    ) -> ServeFilterOutcome {
        guard layout.isJSON, !layout.events.isEmpty else { return .skip }
        let cuts = layout.events.map { FrameLayout.cut($0, keeping: subscribed.contains) }
        return layout.apply(cuts, to: frame)
    }
}
