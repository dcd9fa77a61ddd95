package client

import "time"

var (
	aLongTimeAgo = time.Unix(1, 0)
	timeZero     time.Time
)
