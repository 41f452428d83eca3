"""HJ 212-2017 online-monitoring packets: CRC, framing and parsing."""
