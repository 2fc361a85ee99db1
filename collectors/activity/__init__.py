"""Activity sampling: sessions by wait class every second, aggregated into 10 s buckets of DB load
(average active sessions) with a bounded top-session snapshot, and blocking trees."""
