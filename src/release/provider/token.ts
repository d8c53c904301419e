/**
 * The TrafficSplit's type token: its dynamic-provider module/type pair
 * (pulumi-nodejs:dynamic/<module>:<type>). One home, no imports, so the
 * policy pack, the plan and the commands can all name it without loading
 * the provider.
 */
export const TRAFFIC_SPLIT_MODULE = "progressive-delivery";
export const TRAFFIC_SPLIT_TYPE = "TrafficSplit";
export const TRAFFIC_SPLIT_TOKEN = `pulumi-nodejs:dynamic/${TRAFFIC_SPLIT_MODULE}:${TRAFFIC_SPLIT_TYPE}`;
