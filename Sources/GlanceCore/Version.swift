/// The version of Glance, as `glance --version` prints it.
public let glanceVersion = "0.1.0"
