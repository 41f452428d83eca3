{{ monitoring_staging('monitoring_daily') }}
