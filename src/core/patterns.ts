/**
 * Strict patterns for everything a user can type that reaches Git, the store or a path.
 * Nothing leaves the edge unless it matches one of these.
 */
export const APP_NAME = /^[a-z][a-z0-9-]{0,62}$/;
export const ENV_NAME = /^[a-z][a-z0-9-]{0,30}$/;
export const ROLE_NAME = /^[a-z][a-z0-9-]{0,40}$/;
/** Branch names: path segments of safe characters, no "..", no leading "-", no ".lock". */
export const BRANCH_NAME = /^(?!-)(?!.*\.\.)(?!.*\/\/)(?!.*\.lock$)[A-Za-z0-9][A-Za-z0-9._/-]{0,120}$/;
/** A deploy tag such as prod/2026.11.23.2 (or a custom format of the same characters). */
export const TAG_NAME = /^(?!-)(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._/-]{0,120}$/;
/** An abbreviated or full hexadecimal commit sha. */
export const SHA = /^[0-9a-f]{7,40}$/;
export const OPERATION_ID = /^op_[0-9a-z]{8,32}$/;
export const TICKET = /^CHG\d{4,10}$/;
export const USER_ID = /^[A-Za-z0-9_.-]{1,64}$/;
