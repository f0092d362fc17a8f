-- Dashboard: the meter fleet, for the sidebar filters and the meter picker.
SELECT meter_id, customer_class, feeder, transformer, substation, has_solar, rated_kw, nominal_voltage,
       solar_kwp
FROM meters
ORDER BY meter_id
