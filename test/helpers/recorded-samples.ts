// Samples of a real compute (mariadbd 10.11, process driver, cgroup v1, 2 cores
// shared with the load generator), every 2 s while sysbench oltp_point_select ran
// against it directly at 1, 4 and 16 threads (14 s each) after 6 s idle, then
// 30 s idle; the autoscaler was on (range 0.25-1 CU, down after 20 s), so
// sizeMilli is the size it was at when sampled. `t` is ms since the first
// sample. Recorded once for test/unit/control-plane-autoscale-decision.test.ts.
import type { AutoscaleSample } from '../../control-plane/autoscale-decision.js';

export interface RecordedSample extends Omit<AutoscaleSample, 'at'> {
  t: number;
  phase: string;
  sizeMilli: number;
}

export const RAMP_SAMPLES: RecordedSample[] = [
  { t: 2015, phase: 'idle', sizeMilli: 250, cpuSecondsTotal: 0.14, memoryBytes: 122376192, threadsRunning: 0, pageSize: 16384, pagesTotal: 32448, pagesData: 466, pagesFree: 31982, readRequests: 32822, reads: 170 },
  { t: 4006, phase: 'idle', sizeMilli: 250, cpuSecondsTotal: 0.14, memoryBytes: 122417152, threadsRunning: 0, pageSize: 16384, pagesTotal: 32448, pagesData: 466, pagesFree: 31982, readRequests: 32822, reads: 170 },
  { t: 6015, phase: 'threads-1', sizeMilli: 250, cpuSecondsTotal: 0.15, memoryBytes: 122417152, threadsRunning: 0, pageSize: 16384, pagesTotal: 32448, pagesData: 466, pagesFree: 31982, readRequests: 32822, reads: 170 },
  { t: 8049, phase: 'threads-1', sizeMilli: 250, cpuSecondsTotal: 0.66, memoryBytes: 122417152, threadsRunning: 0, pageSize: 16384, pagesTotal: 32448, pagesData: 466, pagesFree: 31982, readRequests: 56508, reads: 170 },
  { t: 10014, phase: 'threads-1', sizeMilli: 500, cpuSecondsTotal: 1.55, memoryBytes: 127746048, threadsRunning: 1, pageSize: 16384, pagesTotal: 64896, pagesData: 466, pagesFree: 64430, readRequests: 127876, reads: 170 },
  { t: 12014, phase: 'threads-1', sizeMilli: 750, cpuSecondsTotal: 2.54, memoryBytes: 133312512, threadsRunning: 1, pageSize: 16384, pagesTotal: 97344, pagesData: 466, pagesFree: 96878, readRequests: 209517, reads: 170 },
  { t: 14013, phase: 'threads-1', sizeMilli: 750, cpuSecondsTotal: 3.66, memoryBytes: 133341184, threadsRunning: 1, pageSize: 16384, pagesTotal: 97344, pagesData: 466, pagesFree: 96878, readRequests: 311809, reads: 170 },
  { t: 16012, phase: 'threads-1', sizeMilli: 750, cpuSecondsTotal: 4.71, memoryBytes: 133341184, threadsRunning: 1, pageSize: 16384, pagesTotal: 97344, pagesData: 466, pagesFree: 96878, readRequests: 409029, reads: 170 },
  { t: 18010, phase: 'threads-1', sizeMilli: 750, cpuSecondsTotal: 5.82, memoryBytes: 133341184, threadsRunning: 0, pageSize: 16384, pagesTotal: 97344, pagesData: 466, pagesFree: 96878, readRequests: 525221, reads: 170 },
  { t: 20016, phase: 'threads-1', sizeMilli: 750, cpuSecondsTotal: 6.86, memoryBytes: 133353472, threadsRunning: 1, pageSize: 16384, pagesTotal: 97344, pagesData: 466, pagesFree: 96878, readRequests: 637680, reads: 170 },
  { t: 22016, phase: 'threads-4', sizeMilli: 1000, cpuSecondsTotal: 7.57, memoryBytes: 138936320, threadsRunning: 3, pageSize: 16384, pagesTotal: 129792, pagesData: 466, pagesFree: 129326, readRequests: 671015, reads: 170 },
  { t: 24017, phase: 'threads-4', sizeMilli: 1000, cpuSecondsTotal: 8.33, memoryBytes: 138940416, threadsRunning: 1, pageSize: 16384, pagesTotal: 129792, pagesData: 466, pagesFree: 129326, readRequests: 719806, reads: 170 },
  { t: 26025, phase: 'threads-4', sizeMilli: 1000, cpuSecondsTotal: 9.1, memoryBytes: 138940416, threadsRunning: 4, pageSize: 16384, pagesTotal: 129792, pagesData: 466, pagesFree: 129326, readRequests: 767773, reads: 170 },
  { t: 28009, phase: 'threads-4', sizeMilli: 1000, cpuSecondsTotal: 9.88, memoryBytes: 138940416, threadsRunning: 3, pageSize: 16384, pagesTotal: 129792, pagesData: 466, pagesFree: 129326, readRequests: 805675, reads: 170 },
  { t: 30019, phase: 'threads-4', sizeMilli: 1000, cpuSecondsTotal: 10.58, memoryBytes: 138940416, threadsRunning: 3, pageSize: 16384, pagesTotal: 129792, pagesData: 466, pagesFree: 129326, readRequests: 843480, reads: 170 },
  { t: 32021, phase: 'threads-4', sizeMilli: 1000, cpuSecondsTotal: 11.32, memoryBytes: 138940416, threadsRunning: 1, pageSize: 16384, pagesTotal: 129792, pagesData: 466, pagesFree: 129326, readRequests: 880831, reads: 170 },
  { t: 34026, phase: 'threads-4', sizeMilli: 1000, cpuSecondsTotal: 12.56, memoryBytes: 138940416, threadsRunning: 2, pageSize: 16384, pagesTotal: 129792, pagesData: 466, pagesFree: 129326, readRequests: 973216, reads: 170 },
  { t: 36036, phase: 'threads-16', sizeMilli: 1000, cpuSecondsTotal: 13.57, memoryBytes: 143097856, threadsRunning: 11, pageSize: 16384, pagesTotal: 129792, pagesData: 466, pagesFree: 129326, readRequests: 1033089, reads: 170 },
  { t: 38071, phase: 'threads-16', sizeMilli: 1000, cpuSecondsTotal: 14.26, memoryBytes: 143142912, threadsRunning: 16, pageSize: 16384, pagesTotal: 129792, pagesData: 466, pagesFree: 129326, readRequests: 1069956, reads: 170 },
  { t: 40063, phase: 'threads-16', sizeMilli: 1000, cpuSecondsTotal: 15.08, memoryBytes: 143142912, threadsRunning: 11, pageSize: 16384, pagesTotal: 129792, pagesData: 466, pagesFree: 129326, readRequests: 1115860, reads: 170 },
  { t: 42040, phase: 'threads-16', sizeMilli: 1000, cpuSecondsTotal: 15.89, memoryBytes: 143142912, threadsRunning: 11, pageSize: 16384, pagesTotal: 129792, pagesData: 466, pagesFree: 129326, readRequests: 1155071, reads: 170 },
  { t: 44030, phase: 'threads-16', sizeMilli: 1000, cpuSecondsTotal: 16.74, memoryBytes: 143142912, threadsRunning: 10, pageSize: 16384, pagesTotal: 129792, pagesData: 466, pagesFree: 129326, readRequests: 1199827, reads: 170 },
  { t: 46029, phase: 'threads-16', sizeMilli: 1000, cpuSecondsTotal: 17.72, memoryBytes: 143142912, threadsRunning: 15, pageSize: 16384, pagesTotal: 129792, pagesData: 466, pagesFree: 129326, readRequests: 1248937, reads: 170 },
  { t: 48043, phase: 'threads-16', sizeMilli: 1000, cpuSecondsTotal: 18.82, memoryBytes: 143142912, threadsRunning: 10, pageSize: 16384, pagesTotal: 129792, pagesData: 466, pagesFree: 129326, readRequests: 1305210, reads: 170 },
  { t: 50016, phase: 'idle', sizeMilli: 1000, cpuSecondsTotal: 18.89, memoryBytes: 143142912, threadsRunning: 0, pageSize: 16384, pagesTotal: 129792, pagesData: 466, pagesFree: 129326, readRequests: 1308925, reads: 170 },
  { t: 52023, phase: 'idle', sizeMilli: 1000, cpuSecondsTotal: 18.89, memoryBytes: 143425536, threadsRunning: 0, pageSize: 16384, pagesTotal: 129792, pagesData: 466, pagesFree: 129326, readRequests: 1308925, reads: 170 },
  { t: 54017, phase: 'idle', sizeMilli: 1000, cpuSecondsTotal: 18.89, memoryBytes: 143728640, threadsRunning: 0, pageSize: 16384, pagesTotal: 129792, pagesData: 466, pagesFree: 129326, readRequests: 1308925, reads: 170 },
  { t: 56017, phase: 'idle', sizeMilli: 1000, cpuSecondsTotal: 18.89, memoryBytes: 143917056, threadsRunning: 0, pageSize: 16384, pagesTotal: 129792, pagesData: 466, pagesFree: 129326, readRequests: 1308925, reads: 170 },
  { t: 58021, phase: 'idle', sizeMilli: 1000, cpuSecondsTotal: 18.9, memoryBytes: 144318464, threadsRunning: 0, pageSize: 16384, pagesTotal: 129792, pagesData: 466, pagesFree: 129326, readRequests: 1308925, reads: 170 },
  { t: 60020, phase: 'idle', sizeMilli: 1000, cpuSecondsTotal: 18.9, memoryBytes: 144326656, threadsRunning: 0, pageSize: 16384, pagesTotal: 129792, pagesData: 466, pagesFree: 129326, readRequests: 1308925, reads: 170 },
  { t: 62025, phase: 'idle', sizeMilli: 1000, cpuSecondsTotal: 18.9, memoryBytes: 144478208, threadsRunning: 0, pageSize: 16384, pagesTotal: 129792, pagesData: 466, pagesFree: 129326, readRequests: 1308925, reads: 170 },
  { t: 64031, phase: 'idle', sizeMilli: 1000, cpuSecondsTotal: 18.9, memoryBytes: 144625664, threadsRunning: 0, pageSize: 16384, pagesTotal: 129792, pagesData: 466, pagesFree: 129326, readRequests: 1308925, reads: 170 },
  { t: 66025, phase: 'idle', sizeMilli: 1000, cpuSecondsTotal: 18.9, memoryBytes: 144625664, threadsRunning: 0, pageSize: 16384, pagesTotal: 129792, pagesData: 466, pagesFree: 129326, readRequests: 1308925, reads: 170 },
  { t: 68027, phase: 'idle', sizeMilli: 1000, cpuSecondsTotal: 18.9, memoryBytes: 144707584, threadsRunning: 0, pageSize: 16384, pagesTotal: 129792, pagesData: 466, pagesFree: 129326, readRequests: 1308925, reads: 170 },
  { t: 70024, phase: 'idle', sizeMilli: 1000, cpuSecondsTotal: 18.91, memoryBytes: 144707584, threadsRunning: 0, pageSize: 16384, pagesTotal: 129792, pagesData: 466, pagesFree: 129326, readRequests: 1308925, reads: 170 },
  { t: 72197, phase: 'idle', sizeMilli: 250, cpuSecondsTotal: 18.93, memoryBytes: 133615616, threadsRunning: 0, pageSize: 16384, pagesTotal: 32448, pagesData: 466, pagesFree: 31982, readRequests: 1308925, reads: 170 },
  { t: 74027, phase: 'idle', sizeMilli: 250, cpuSecondsTotal: 18.93, memoryBytes: 133656576, threadsRunning: 0, pageSize: 16384, pagesTotal: 32448, pagesData: 466, pagesFree: 31982, readRequests: 1308925, reads: 170 },
  { t: 76025, phase: 'idle', sizeMilli: 250, cpuSecondsTotal: 18.93, memoryBytes: 133656576, threadsRunning: 0, pageSize: 16384, pagesTotal: 32448, pagesData: 466, pagesFree: 31982, readRequests: 1308925, reads: 170 },
  { t: 78029, phase: 'idle', sizeMilli: 250, cpuSecondsTotal: 18.93, memoryBytes: 133701632, threadsRunning: 0, pageSize: 16384, pagesTotal: 32448, pagesData: 466, pagesFree: 31982, readRequests: 1308925, reads: 170 },
];
